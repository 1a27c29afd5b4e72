import { CHAT_TEMPLATE } from '../stages/tokenize/chat-format.js';
import type { TrainingPlan } from './training-plan.js';

function dataset(dir: string, files: string[]): Record<string, unknown> {
  return {
    // A local directory with data_files: axolotl hands both to datasets.load_dataset.
    path: dir,
    ds_type: 'parquet',
    data_files: files,
    split: 'train',
    type: 'chat_template',
    chat_template: 'jinja',
    chat_template_jinja: CHAT_TEMPLATE,
    // The shards' chat column: context messages with train=false, the target with train=true.
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
    chat_template_jinja: CHAT_TEMPLATE,
    special_tokens: {
      // axolotl finds the end of each turn by the eos token; in this format that is <|eot_id|>.
      eos_token: '<|eot_id|>',
      pad_token: '<|end_of_text|>',
      additional_special_tokens: [p.endToken],
    },
    datasets: [dataset(`${p.datasetDir}/data`, p.trainFiles)],
    ...(p.evalFiles.length ? { test_datasets: [dataset(`${p.datasetDir}/data`, p.evalFiles)] } : {}),
    dataset_prepared_path: `${p.configDir}/prepared`,
    output_dir: `${p.configDir}/checkpoints`,
    sequence_len: p.maxSeqLen,
    sample_packing: false,
    micro_batch_size: p.batch.microBatch,
    gradient_accumulation_steps: p.batch.gradientAccumulation,
    num_epochs: p.epochs,
    learning_rate: p.learningRate,
    lr_scheduler: 'cosine',
    warmup_ratio: 0.03,
    optimizer: 'adamw_torch_fused',
    train_on_inputs: false,
    bf16: true,
    gradient_checkpointing: true,
    logging_steps: 10,
    save_strategy: 'epoch',
    ...(p.evalFiles.length ? { eval_strategy: 'epoch' } : {}),
  };
}
