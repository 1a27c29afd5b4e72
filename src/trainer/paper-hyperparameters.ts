/**
 * The paper's training recipe (FACTS.md: Llama-3 base, sequence 2048, batch 1024, lr 2e-5),
 * the same for every trainer. Epochs, warmup, schedule and the per-device micro batch are not
 * reported; one epoch, 3% linear warmup into a cosine decay, and 4 sequences of 2048 tokens
 * per device (an 8B model, sharded, with gradient checkpointing on an 80 GB GPU) are ours.
 */
export const PAPER_HYPERPARAMETERS = {
  learning_rate: 2e-5,
  max_seq_len: 2048,
  global_batch_size: 1024,
  epochs: 1,
  micro_batch_size: 4,
  warmup_ratio: 0.03,
  lr_scheduler: 'cosine',
  weight_decay: 0,
  max_grad_norm: 1,
  /** Optimizer steps between checkpoints: a preempted job loses at most this much. */
  save_steps: 50,
  save_total_limit: 2,
} as const;

/** UserLM-8b's base model (its card's base_model). */
export const DEFAULT_BASE_MODEL = 'meta-llama/Llama-3.1-8B';

export interface BatchPlan {
  microBatch: number;
  gradientAccumulation: number;
  world: number;
}

/**
 * Per-device micro batch and gradient accumulation that give exactly the global batch on
 * world devices; the micro batch shrinks from the preferred size until it divides. The
 * launchers recompute the accumulation from the world size they really get (the same rule in
 * launch.sh and train_trl.py), so the global batch is the same whatever the node count.
 */
export function batchPlan(globalBatch: number, world: number, preferredMicro: number): BatchPlan | null {
  if (globalBatch % world !== 0) return null;
  const perDevice = globalBatch / world;
  for (let micro = Math.min(preferredMicro, perDevice); micro >= 1; micro--) {
    if (perDevice % micro === 0) return { microBatch: micro, gradientAccumulation: perDevice / micro, world };
  }
  return null;
}
