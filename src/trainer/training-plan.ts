import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SourceError, UserlmError } from '../core/errors.js';
import { END_TOKEN } from '../stages/flip/flip-conversation.js';
import type { Manifest } from '../stages/shards/manifest.js';
import { CHAT_FORMAT_NAMES, chatFormat, checkChatFormat, type ChatFormat, type ChatFormatName } from '../stages/tokenize/chat-format.js';
import { estimateMemory, formatEstimate, type MemoryEstimate, type Sharding } from './memory-estimate.js';
import { modelShape, parameterCount } from './model-shape.js';
import { batchPlan, PAPER_HYPERPARAMETERS, type BatchPlan } from './paper-hyperparameters.js';

export type TrainerName = 'trl' | 'axolotl';

export interface TrainingPlan {
  trainer: TrainerName;
  baseModel: string;
  /** Absolute: the configs name the shards by absolute path so they work from any directory. */
  datasetDir: string;
  configDir: string;
  gpus: number;
  nodes: number;
  maxSeqLen: number;
  endToken: string;
  learningRate: number;
  epochs: number;
  globalBatch: number;
  batch: BatchPlan;
  trainFiles: string[];
  evalFiles: string[];
  format: ChatFormat;
  sharding: Sharding;
  /** CPU processes with gloo instead of GPUs (the CI check of the hand-off). */
  cpu: boolean;
  memory: MemoryEstimate;
  gpuMemoryBytes: number;
  maxSteps: number | null;
  saveSteps: number;
}

export interface PlanOptions {
  trainer: TrainerName;
  baseModel: string;
  gpus: number;
  nodes: number;
  configDir: string;
  /** Default: fsdp for models of 7B parameters or more, ddp below. */
  sharding?: Sharding;
  cpu?: boolean;
  globalBatch?: number;
  microBatch?: number;
  gpuMemoryGb?: number;
  maxSteps?: number | null;
  saveSteps?: number;
}

/** Read a finished dataset's manifest and shards and decide the training setup. */
export async function planTraining(outDir: string, o: PlanOptions): Promise<TrainingPlan> {
  const datasetDir = resolve(outDir);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(resolve(datasetDir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    throw new SourceError(`${outDir}: no manifest.json; pass the out_dir of a finished run (e.g. out/sample after make dataset)`);
  }
  if (!manifest.tokens) {
    throw new SourceError(`${outDir} was built without the tokenize stage, so sample lengths are unknown; rebuild it with this version of userlm-data`);
  }
  const files = (split: string) => manifest.files.filter((f) => f.split === split).map((f) => resolve(datasetDir, f.path));
  const trainFiles = files('train');
  if (trainFiles.length === 0) throw new SourceError(`${outDir} has no train split`);
  const world = o.gpus * o.nodes;
  const globalBatch = o.globalBatch ?? PAPER_HYPERPARAMETERS.global_batch_size;
  const batch = batchPlan(globalBatch, world, o.microBatch ?? PAPER_HYPERPARAMETERS.micro_batch_size);
  if (!batch) {
    throw new UserlmError(`a global batch of ${globalBatch} cannot be split evenly over ${world} GPUs; use a power-of-two GPU count`);
  }
  const formatName = (manifest.tokens.format ?? 'llama3') as ChatFormatName;
  if (!CHAT_FORMAT_NAMES.includes(formatName)) throw new SourceError(`${outDir}/manifest.json: unknown chat format ${formatName}; known: ${CHAT_FORMAT_NAMES.join(', ')}`);
  const format = chatFormat(formatName);
  checkChatFormat(format);
  const shape = modelShape(o.baseModel);
  const sharding = o.sharding ?? (parameterCount(shape) >= 7e9 ? 'fsdp' : 'ddp');
  const memory = estimateMemory(shape, { sharding, world, microBatch: batch.microBatch, seqLen: manifest.tokens.max_seq_len });
  const gpuMemoryBytes = (o.gpuMemoryGb ?? 80) * 1e9;
  if (!o.cpu) assertFits(memory, gpuMemoryBytes, sharding, world);
  return {
    trainer: o.trainer,
    baseModel: o.baseModel,
    datasetDir,
    configDir: resolve(o.configDir),
    gpus: o.gpus,
    nodes: o.nodes,
    maxSeqLen: manifest.tokens.max_seq_len,
    endToken: manifest.tokens.end_token ?? END_TOKEN,
    learningRate: PAPER_HYPERPARAMETERS.learning_rate,
    epochs: PAPER_HYPERPARAMETERS.epochs,
    globalBatch,
    batch,
    trainFiles,
    evalFiles: files('validation'),
    format,
    sharding,
    cpu: o.cpu ?? false,
    memory,
    gpuMemoryBytes,
    maxSteps: o.maxSteps ?? null,
    saveSteps: o.saveSteps ?? PAPER_HYPERPARAMETERS.save_steps,
  };
}

/** Refuses a plan whose estimate does not fit the device, naming what would. */
export function assertFits(m: MemoryEstimate, deviceBytes: number, sharding: Sharding, world: number): void {
  if (m.total <= deviceBytes) return;
  throw new UserlmError(
    `this plan does not fit: ${formatEstimate(m, sharding, world)}, over the ${(deviceBytes / 1e9).toFixed(0)} GB of one GPU. ` +
      (sharding === 'ddp' ? 'Shard the model (--sharding fsdp or deepspeed), ' : 'Use more GPUs (--nodes), ') +
      'or lower the micro batch (--micro-batch); --gpu-memory-gb sets the device size.',
  );
}

