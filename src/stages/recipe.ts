import type { LoadedPipeline } from '../config/pipeline-config.js';
import type { Logger } from '../core/logger.js';
import { runPipeline, type RunResult } from '../core/runner.js';
import type { AnyStageSpec } from '../core/stage.js';
import { dedupStage } from './dedup/dedup-stage.js';
import { filterStage } from './filter/filter-stage.js';
import { flipStage } from './flip/flip-stage.js';
import { intentsStage } from './intents/intents-stage.js';
import { normalizeStage } from './normalize/normalize-stage.js';
import { claimOutDir, exportDataset } from './shards/export-dataset.js';
import { shardsStage } from './shards/shards-stage.js';
import { splitStage } from './split/split-stage.js';
import { tokenizeStage } from './tokenize/tokenize-stage.js';
import { createOpenAIClient } from '../llm/openai-client.js';
import { stageDir } from '../core/runner.js';
import { writeK8sManifests, type K8sOptions } from '../exec/k8s-manifests.js';
import { runLocal } from '../exec/local-executor.js';
import type { Partition } from '../exec/partition.js';
import { runPartition, runReduce, type PartitionRun } from '../exec/partitioned-run.js';
import { submitSlurm, type SlurmSubmission } from '../exec/slurm-executor.js';
import type { TaskCommand } from '../exec/task-command.js';

/** The recipe, in order: the only place that orders stages. Each stage reads the previous one's data. */
export const STAGES: AnyStageSpec[] = [normalizeStage, filterStage, dedupStage, intentsStage, flipStage, tokenizeStage, splitStage, shardsStage];

export interface BuildResult extends RunResult {
  outDir: string;
  exported: 'unchanged' | 'written';
}

/**
 * How a run executes: in this process (`single`), as one partition's map work or the reduce
 * steps of a partitioned run (what a cluster task runs), or driven by an executor.
 */
export type Execution =
  | { kind: 'single' }
  | { kind: 'partition'; partition: Partition }
  | { kind: 'reduce'; count: number }
  | { kind: 'local'; count: number; command: TaskCommand }
  | { kind: 'slurm'; count: number; command: TaskCommand; sbatchArgs: string[]; wait: boolean }
  | { kind: 'k8s'; count: number; command: TaskCommand; k8s: K8sOptions };

/** What a run did: the finished dataset, or (partitions, submissions) work that is not the whole run. */
export type BuildOutcome =
  | { kind: 'built'; build: BuildResult }
  | { kind: 'partition'; run: PartitionRun }
  | { kind: 'waiting'; stage: string; partitions: number[]; count: number }
  | { kind: 'submitted'; jobs: SlurmSubmission[] }
  | { kind: 'manifests'; files: string[]; dir: string };

/** Run every stage (skipping finished ones), then publish the shards stage's files to out_dir. */
export async function buildDataset(pipeline: LoadedPipeline, log: Logger): Promise<BuildResult> {
  const outcome = await build(pipeline, log, { kind: 'single' });
  if (outcome.kind !== 'built') throw new Error('a single run always builds');
  return outcome.build;
}

export async function build(pipeline: LoadedPipeline, log: Logger, how: Execution): Promise<BuildOutcome> {
  // A missing API key should stop the run now, not after the stages before intents.
  const intents = pipeline.config.stages.intents;
  if (intents.backend !== 'template') createOpenAIClient(intents, pipeline.file);
  if (how.kind === 'partition') return { kind: 'partition', run: await runPartition(pipeline, STAGES, how.partition, { log }) };
  if (how.kind === 'k8s') return { kind: 'manifests', ...(await writeK8sManifests(pipeline, STAGES, how.count, { command: how.command, k8s: how.k8s, log })) };
  // A foreign out_dir (a user's folder, another pipeline's dataset) stops the run before hours of stages.
  const owner = { runDir: pipeline.config.run_dir, pipelineFile: pipeline.file };
  await claimOutDir(pipeline.config.out_dir, owner);
  let exported: BuildResult['exported'] = 'unchanged';
  const finalize = async (r: RunResult) => {
    const last = r.markers[r.markers.length - 1]!;
    exported = await exportDataset(stageDir(pipeline.config.run_dir, shardsStage), last, pipeline.config.out_dir, log, owner);
  };
  const built = (result: RunResult): BuildOutcome => ({ kind: 'built', build: { ...result, outDir: pipeline.config.out_dir, exported } });
  if (how.kind === 'single') return built(await runPipeline(pipeline, STAGES, { log, finalize }));
  if (how.kind === 'slurm') {
    const s = await submitSlurm(pipeline, STAGES, how.count, { log, command: how.command, sbatchArgs: how.sbatchArgs, wait: how.wait });
    return s.result ? built(s.result) : { kind: 'submitted', jobs: s.submitted };
  }
  const r = how.kind === 'local' ? await runLocal(pipeline, STAGES, how.count, { log, command: how.command, finalize }) : await runReduce(pipeline, STAGES, how.count, { log, finalize });
  return r.waiting ? { kind: 'waiting', ...r.waiting, count: how.count } : built(r);
}
