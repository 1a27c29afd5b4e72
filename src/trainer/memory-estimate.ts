import { parameterCount, type ModelShape } from './model-shape.js';

export type Sharding = 'fsdp' | 'deepspeed' | 'ddp';

export interface MemoryEstimate {
  /** Bytes per device. */
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  /** CUDA context, NCCL buffers, allocator fragmentation. */
  overhead: number;
  total: number;
  params: number;
}

const GB = 1e9;

/**
 * Memory per device for full fine-tuning with AdamW in bf16 mixed precision: fp32 master
 * weights (4 bytes per parameter), fp32 gradients (4) and two fp32 Adam moments (8), divided
 * over the world under FSDP full-shard or ZeRO-3 and replicated under DDP; plus the bf16 copy
 * of the layers being computed (one gathered layer, prefetched, under sharding; the whole
 * model under DDP). Activations assume gradient checkpointing: one hidden state per layer
 * kept, one layer's intermediates recomputed, and the logits (bf16, their fp32 upcast for the
 * loss, and its gradient), which dominate for Llama-3's 128k vocabulary.
 */
export function estimateMemory(s: ModelShape, o: { sharding: Sharding; world: number; microBatch: number; seqLen: number }): MemoryEstimate {
  const params = parameterCount(s);
  const shards = o.sharding === 'ddp' ? 1 : o.world;
  const layerParams = (params - 2 * s.vocab * s.hidden) / s.layers;
  const bf16Working = o.sharding === 'ddp' ? 2 * params : 2 * 2 * layerParams;
  const weights = (4 * params) / shards + bf16Working;
  const gradients = (4 * params) / shards;
  const optimizer = (8 * params) / shards;
  const tokens = o.microBatch * o.seqLen;
  const checkpoints = tokens * s.hidden * 2 * s.layers;
  const kvDim = (s.hidden / s.heads) * s.kvHeads;
  const oneLayer = tokens * (s.hidden * 10 + kvDim * 4 + s.intermediate * 6) * 2;
  const logits = tokens * s.vocab * (2 + 4 + 4);
  const activations = checkpoints + oneLayer + logits;
  const overhead = 3 * GB;
  return { weights, gradients, optimizer, activations, overhead, total: weights + gradients + optimizer + activations + overhead, params };
}

export function formatEstimate(e: MemoryEstimate, sharding: Sharding, world: number): string {
  const g = (b: number) => `${(b / GB).toFixed(1)} GB`;
  return (
    `memory per GPU (${sharding}${sharding === 'ddp' ? ', replicated' : `, sharded over ${world}`}; ${(e.params / 1e9).toFixed(2)}B parameters): ` +
    `weights ${g(e.weights)}, gradients ${g(e.gradients)}, optimizer ${g(e.optimizer)}, activations ${g(e.activations)}, overhead ${g(e.overhead)}, total ${g(e.total)}`
  );
}
