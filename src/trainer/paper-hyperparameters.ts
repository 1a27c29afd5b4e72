/**
 * The paper's training recipe (FACTS.md: Llama-3 base, sequence 2048, batch 1024, lr 2e-5).
 * Epochs and the per-device micro batch are not reported; one epoch and 4 sequences of 2048
 * tokens per device (an 8B model with gradient checkpointing on an 80 GB GPU) are our choice.
 */
export const PAPER_HYPERPARAMETERS = {
  learning_rate: 2e-5,
  max_seq_len: 2048,
  global_batch_size: 1024,
  epochs: 1,
  micro_batch_size: 4,
} as const;

export interface BatchPlan {
  microBatch: number;
  gradientAccumulation: number;
  world: number;
}

/**
 * Per-device micro batch and gradient accumulation that give exactly the global batch on
 * world devices; the micro batch shrinks from the preferred size until it divides.
 */
export function batchPlan(globalBatch: number, world: number, preferredMicro: number): BatchPlan | null {
  if (globalBatch % world !== 0) return null;
  const perDevice = globalBatch / world;
  for (let micro = Math.min(preferredMicro, perDevice); micro >= 1; micro--) {
    if (perDevice % micro === 0) return { microBatch: micro, gradientAccumulation: perDevice / micro, world };
  }
  return null;
}
