import { PAPER_HYPERPARAMETERS } from './paper-hyperparameters.js';
import type { TrainingPlan } from './training-plan.js';

/** One axolotl dataset entry over shard files (also quoted by the dataset card). */
export function axolotlDataset(dir: string, files: string[], template: string): Record<string, unknown> {
  return {
    // A local directory with data_files: axolotl hands both to datasets.load_dataset.
    path: dir,
    ds_type: 'parquet',
    data_files: files,
    split: 'train',
    // axolotl's chat_template, over a `chat` list that userlm_axolotl/chat.py (written beside
    // this config) builds at load time from messages (train=false) and target (train=true):
    // the shards keep one copy of the context.
    type: 'userlm_axolotl.chat',
    chat_template: 'jinja',
    chat_template_jinja: template,
    field_messages: 'chat',
    message_property_mappings: { role: 'role', content: 'content' },
    message_field_training: 'train',
    roles_to_train: [],
    // The <|eot_id|> closing the trained turn is learned too: it is how the turn ends.
    train_on_eos: 'turn',
  };
}

/**
 * An axolotl config. Every key must be a field of axolotl's config schema (tests hold them to
 * a list read from axolotl's source).
 */
export function axolotlConfig(p: TrainingPlan): Record<string, unknown> {
  return {
    base_model: p.baseModel,
    chat_template: 'jinja',
    chat_template_jinja: p.format.template,
    special_tokens: {
      // axolotl finds the end of each turn by the eos token; in this format that is <|eot_id|>.
      eos_token: '<|eot_id|>',
      pad_token: '<|end_of_text|>',
      additional_special_tokens: [p.endToken],
    },
    datasets: [axolotlDataset(`${p.datasetDir}/data`, p.trainFiles, p.format.template)],
    ...(p.evalFiles.length ? { test_datasets: [axolotlDataset(`${p.datasetDir}/data`, p.evalFiles, p.format.template)] } : {}),
    dataset_prepared_path: `${p.configDir}/prepared`,
    output_dir: `${p.configDir}/checkpoints`,
    sequence_len: p.maxSeqLen,
    sample_packing: false,
    micro_batch_size: p.batch.microBatch,
    gradient_accumulation_steps: p.batch.gradientAccumulation,
    num_epochs: p.epochs,
    learning_rate: p.learningRate,
    // The same recipe as the TRL config (paper-hyperparameters.ts).
    lr_scheduler: PAPER_HYPERPARAMETERS.lr_scheduler,
    warmup_ratio: PAPER_HYPERPARAMETERS.warmup_ratio,
    weight_decay: PAPER_HYPERPARAMETERS.weight_decay,
    max_grad_norm: PAPER_HYPERPARAMETERS.max_grad_norm,
    optimizer: 'adamw_torch_fused',
    train_on_inputs: false,
    bf16: true,
    gradient_checkpointing: true,
    logging_steps: 10,
    save_strategy: 'steps',
    save_steps: p.saveSteps,
    save_total_limit: PAPER_HYPERPARAMETERS.save_total_limit,
    // A restarted job continues from the newest checkpoint in output_dir.
    auto_resume_from_checkpoints: true,
    ...(p.evalFiles.length ? { eval_strategy: 'steps', eval_steps: p.saveSteps } : {}),
    ...sharding(p),
  };
}

function sharding(p: TrainingPlan): Record<string, unknown> {
  if (p.sharding === 'fsdp') {
    return {
      fsdp: ['full_shard', 'auto_wrap'],
      fsdp_config: {
        fsdp_offload_params: false,
        fsdp_state_dict_type: 'FULL_STATE_DICT',
        fsdp_auto_wrap_policy: 'TRANSFORMER_BASED_WRAP',
        fsdp_transformer_layer_cls_to_wrap: 'LlamaDecoderLayer',
        fsdp_cpu_ram_efficient_loading: true,
        fsdp_use_orig_params: false,
      },
    };
  }
  if (p.sharding === 'deepspeed') return { deepspeed: `${p.configDir}/deepspeed_zero3.json` };
  return {};
}

/**
 * ZeRO-3 for axolotl's deepspeed key; "auto" values are filled in by transformers' DeepSpeed
 * integration from the training arguments. bf16 under DeepSpeed keeps fp32 master weights in
 * the optimizer partitions.
 */
export function deepspeedZero3(): Record<string, unknown> {
  return {
    bf16: { enabled: 'auto' },
    zero_optimization: {
      stage: 3,
      overlap_comm: true,
      contiguous_gradients: true,
      reduce_bucket_size: 'auto',
      stage3_prefetch_bucket_size: 'auto',
      stage3_param_persistence_threshold: 'auto',
      stage3_gather_16bit_weights_on_model_save: true,
    },
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
  };
}
