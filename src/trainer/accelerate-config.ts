import type { TrainingPlan } from './training-plan.js';

/**
 * accelerate's config file for launch.sh (`accelerate launch --config_file`): without one,
 * accelerate reads whatever default config the machine has, and with distributed type NO runs
 * a single process. Keys are ClusterConfig fields of accelerate 1.15 (it refuses unknown
 * ones); fsdp_config / deepspeed_config keys are its `--fsdp_*` / DeepSpeed launch options.
 * The machine rank and address are given on the command line per node.
 */
export function accelerateConfig(p: TrainingPlan): Record<string, unknown> {
  const common = {
    compute_environment: 'LOCAL_MACHINE',
    debug: false,
    num_machines: p.nodes,
    num_processes: p.nodes * p.gpus,
    machine_rank: 0,
    rdzv_backend: 'static',
    same_network: true,
    main_training_function: 'main',
    // bf16 autocast over fp32 master weights; the model is loaded in fp32 (train_trl.py).
    mixed_precision: p.cpu ? 'no' : 'bf16',
    use_cpu: p.cpu,
  };
  // CPU processes start through torchrun like GPUs (MULTI_GPU is accelerate's torchrun
  // launcher); use_cpu then makes each one a gloo rank. MULTI_CPU would start one process.
  if (p.cpu || p.sharding === 'ddp') return { ...common, distributed_type: 'MULTI_GPU' };
  if (p.sharding === 'fsdp') {
    return {
      ...common,
      distributed_type: 'FSDP',
      fsdp_config: {
        // FSDP2 with parameters resharded after forward: full sharding of weights,
        // gradients and optimizer state.
        fsdp_version: 2,
        fsdp_reshard_after_forward: true,
        fsdp_auto_wrap_policy: 'TRANSFORMER_BASED_WRAP',
        fsdp_transformer_layer_cls_to_wrap: 'LlamaDecoderLayer',
        fsdp_state_dict_type: 'SHARDED_STATE_DICT',
        fsdp_cpu_ram_efficient_loading: true,
        fsdp_offload_params: false,
        // Gradient checkpointing is the trainer's (gradient_checkpointing); transformers
        // refuses both at once.
        fsdp_activation_checkpointing: false,
      },
    };
  }
  return {
    ...common,
    distributed_type: 'DEEPSPEED',
    deepspeed_config: {
      zero_stage: 3,
      offload_optimizer_device: 'none',
      offload_param_device: 'none',
      zero3_init_flag: true,
      zero3_save_16bit_model: true,
      // One torchrun per node, started by launch.sh on each (as under srun), not pdsh.
      deepspeed_multinode_launcher: 'standard',
    },
  };
}
