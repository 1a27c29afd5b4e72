import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { sqlString, type Db } from '../core/db.js';
import { StageError } from '../core/errors.js';
import { fsFailure } from '../core/fs-failure.js';
import { hashValue } from '../core/hash.js';
import type { Logger } from '../core/logger.js';
import { markerFilesIntact, readMarker, type StageMarker } from '../core/marker.js';
import { acquireLockFile, acquireRunLock } from '../core/run-lock.js';
import {
  checkStageNames,
  countRows,
  countsOf,
  executeStage,
  finalizeRun,
  neededResults,
  openPipelineDb,
  removeLeftovers,
  resultFromMarker,
  skipOrExecute,
  stageDir,
  stageFingerprint,
  stageStatus,
  type RunResult,
} from '../core/runner.js';
import { isMapStage, STAGE_PARQUET, type AnyStageSpec, type StageContext, type StageCounts, type StageResult } from '../core/stage.js';
import { mergePartitions, type FinishedTask } from './merge-partitions.js';
import { arraySpec, partitionSql, partitionsRoot, taskDir, taskName, taskScratchDir, type Partition } from './partition.js';

/** A task marker: a stage's marker for one partition. */
export interface TaskMarker extends StageMarker {
  partition: Partition;
}

/** A task's identity: the stage's own fingerprint, the partition, and the execution it read. */
async function taskFingerprint(spec: AnyStageSpec, pipeline: LoadedPipeline, db: Db, p: Partition, upstream: string): Promise<string> {
  return hashValue({ stage: await stageFingerprint(spec, pipeline, db, null), partition: [p.index, p.count], upstream });
}

/** The task's marker when it is finished for this upstream, else null. */
async function finishedTask(spec: AnyStageSpec, pipeline: LoadedPipeline, db: Db, p: Partition, upstream: string | null): Promise<FinishedTask | null> {
  if (upstream === null) return null;
  const dir = taskDir(pipeline.config.run_dir, spec, p);
  const marker = await readMarker(dir);
  if (!marker || marker.fingerprint !== (await taskFingerprint(spec, pipeline, db, p, upstream))) return null;
  if (!(await markerFilesIntact(dir, marker))) return null;
  return { dir, marker };
}

/**
 * Where a run over `count` partitions stands: per stage, whether its whole result is done,
 * and for a map stage which partitions are finished. Writes nothing. A task whose input is
 * not finished yet counts as not finished.
 */
export interface PartitionedStageState {
  spec: AnyStageSpec;
  map: boolean;
  /** The whole stage's marker when it is up to date. */
  done: StageMarker | null;
  /** Map stages: each partition's finished task, or null. */
  tasks: (FinishedTask | null)[];
}

export async function inspectPartitions(pipeline: LoadedPipeline, stages: AnyStageSpec[], count: number, db: Db): Promise<PartitionedStageState[]> {
  const out: PartitionedStageState[] = [];
  let upstream: string | null = null;
  let known = true;
  for (const [k, spec] of stages.entries()) {
    const map = isMapStage(spec, pipeline);
    const st: Awaited<ReturnType<typeof stageStatus>> | null = known ? await stageStatus(spec, pipeline, db, upstream) : null;
    const done: StageMarker | null = st && st.reason === null ? st.marker : null;
    const tasks: (FinishedTask | null)[] = [];
    if (map) {
      const prev = out[k - 1];
      for (let i = 0; i < count; i++) {
        const up = prev?.map ? (prev.tasks[i]?.marker.execution_id ?? null) : (prev?.done?.execution_id ?? null);
        tasks.push(await finishedTask(spec, pipeline, db, { index: i, count }, up));
      }
    }
    out.push({ spec, map, done, tasks });
    known = done !== null;
    upstream = done?.execution_id ?? null;
  }
  return out;
}

/** Remove what a killed run of this task left: its temp directories and its scratch area. */
async function removeTaskLeftovers(runDir: string, stages: AnyStageSpec[], p: Partition): Promise<void> {
  const root = partitionsRoot(runDir, p.count);
  for (const spec of stages) {
    const parent = join(root, spec.name);
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const n of names) if (n.startsWith(`.${taskName(p)}.tmp-`)) await rm(join(parent, n), { recursive: true, force: true });
  }
  await rm(taskScratchDir(runDir, p), { recursive: true, force: true });
}

export interface PartitionRun {
  executed: string[];
  skipped: string[];
  /** The reduce stage this partition's work stopped before (it needs every partition), or null at the end. */
  stoppedBefore: string | null;
}

/**
 * The map work of one partition: every per-conversation stage whose input is ready, in
 * recipe order, into its own task directory with its own marker; finished tasks are skipped.
 * Stops before the first reduce stage that is not done: that one needs every partition.
 * Tasks of different partitions run at once over shared storage (no run lock; one lock per
 * task).
 */
export async function runPartition(pipeline: LoadedPipeline, stages: AnyStageSpec[], p: Partition, opts: { log: Logger }): Promise<PartitionRun> {
  const { log } = opts;
  checkStageNames(stages);
  const runDir = pipeline.config.run_dir;
  const root = partitionsRoot(runDir, p.count);
  try {
    await mkdir(root, { recursive: true });
  } catch (e) {
    throw fsFailure(e, `cannot create ${root}`);
  }
  const release = await acquireLockFile(join(root, `${taskName(p)}.lock`), `partition ${p.index}/${p.count} of ${runDir}`);
  const scratch = taskScratchDir(runDir, p);
  const result: PartitionRun = { executed: [], skipped: [], stoppedBefore: null };
  let db: Db | undefined;
  try {
    await removeTaskLeftovers(runDir, stages, p).catch((e) => {
      throw fsFailure(e, `cannot clean up ${root}`);
    });
    db = await openPipelineDb(pipeline, join(scratch, 'duckdb'));
    const done = new Map<AnyStageSpec, StageResult>();
    const earlier: StageResult[] = [];
    // The last stage whose whole result is done, while every stage before it is done too.
    let canonical = null as { result: StageResult; executionId: string } | null;
    let known = true;
    let prevTask: { marker: StageMarker; dir: string } | null = null;
    for (const [k, spec] of stages.entries()) {
      const st: Awaited<ReturnType<typeof stageStatus>> | null = known ? await stageStatus(spec, pipeline, db, canonical?.executionId ?? null) : null;
      const wholeMarker: StageMarker | null = st && st.reason === null ? st.marker! : null;
      const whole: StageResult | null = wholeMarker ? resultFromMarker(stageDir(runDir, spec), wholeMarker) : null;
      const tag = `[${k + 1}/${stages.length}] ${spec.name} ${p.index}/${p.count}`;
      if (!isMapStage(spec, pipeline)) {
        if (!whole) {
          result.stoppedBefore = spec.name;
          log.info('partition.wait', `${tag}: a reduce step over all ${p.count} partitions; stopping here (run \`run --reduce ${p.count}\` once every partition is done)`, { stage: spec.name, ...p });
          return result;
        }
        done.set(spec, whole);
        earlier.push(whole);
        canonical = { result: whole, executionId: wholeMarker!.execution_id };
        prevTask = null;
        continue;
      }
      // The input: this partition of the previous map stage, or a slice of the previous whole result.
      let input: string;
      let upstream: string;
      let prevCounts: StageCounts;
      if (prevTask) {
        input = join(prevTask.dir, 'data.parquet');
        upstream = prevTask.marker.execution_id;
        prevCounts = prevTask.marker;
      } else {
        if (!canonical) throw new StageError(`stage ${spec.name} is the first stage and reads no input, so it cannot run on partitions. This is a bug in userlm-data.`);
        upstream = canonical.executionId;
        input = join(scratch, `${spec.name}-input.parquet`);
        await mkdir(scratch, { recursive: true });
        await db.run(
          `COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(canonical.result.data)}, file_row_number = true)
                 WHERE ${partitionSql('conversation_id')} = $partition_index ORDER BY file_row_number)
           TO ${sqlString(input)} (${STAGE_PARQUET})`,
          { partition_count: p.count, partition_index: p.index },
        );
        const c = await countRows(db, [input]);
        prevCounts = { conversations_in: c.conversations, conversations_out: c.conversations, samples_out: c.samples, drops: {} };
      }
      const fingerprint = await taskFingerprint(spec, pipeline, db, p, upstream);
      const dir = taskDir(runDir, spec, p);
      let task = await finishedTask(spec, pipeline, db, p, upstream);
      if (task) {
        log.info('stage.skip', `${tag}: up to date, skipped`, { stage: spec.name, ...p });
        result.skipped.push(spec.name);
      } else {
        log.info('stage.start', `${tag}: running`, { stage: spec.name, ...p });
        const marker = await executeStage({
          spec,
          index: k,
          pipeline,
          db,
          fingerprint,
          dir,
          scratchDir: join(scratch, spec.name),
          input,
          prev: prevCounts,
          needs: neededResults(spec, done),
          earlier: earlier.map(countsOf),
          guards: false,
          extra: { partition: p },
          tag,
          log,
        });
        task = { dir, marker };
        result.executed.push(spec.name);
      }
      await rm(join(scratch, `${spec.name}-input.parquet`), { force: true });
      prevTask = task;
      if (whole) {
        done.set(spec, whole);
        earlier.push(whole);
        canonical = { result: whole, executionId: wholeMarker!.execution_id };
      } else {
        // A later map stage that needs this one reads this partition's output of it.
        done.set(spec, resultFromMarker(task.dir, task.marker));
        known = false;
      }
    }
    return result;
  } finally {
    db?.close();
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    await release().catch(() => undefined);
  }
}


export interface ReduceRun extends RunResult {
  /** Null when the recipe ran to its end; else the map stage whose partitions are not all finished. */
  waiting: { stage: string; partitions: number[] } | null;
}

/**
 * The global steps of a run over `count` partitions, under the run lock: each map stage's
 * finished tasks are merged into the stage directory a single run writes (the same files,
 * the same marker), and each reduce stage runs over the merged result, as in `run`. Stops at
 * the first map stage with an unfinished partition; at the end of the recipe, `finalize`.
 */
export async function runReduce(
  pipeline: LoadedPipeline,
  stages: AnyStageSpec[],
  count: number,
  opts: { log: Logger; finalize?: (result: RunResult) => Promise<void> },
): Promise<ReduceRun> {
  const { log } = opts;
  checkStageNames(stages);
  const runDir = pipeline.config.run_dir;
  const release = await acquireRunLock(runDir);
  const scratchRoot = join(runDir, '.scratch');
  const result: ReduceRun = { markers: [], results: [], executed: [], skipped: [], waiting: null };
  const done = new Map<AnyStageSpec, StageResult>();
  let db: Db | undefined;
  try {
    await removeLeftovers(runDir, scratchRoot).catch((e) => {
      throw fsFailure(e, `cannot clean up ${runDir}`);
    });
    db = await openPipelineDb(pipeline, join(scratchRoot, 'duckdb'));
    let prev: StageResult | null = null;
    let prevTasks: (FinishedTask | null)[] | null = null;
    for (const [i, spec] of stages.entries()) {
      const dir = stageDir(runDir, spec);
      const upstream = result.markers[i - 1]?.execution_id ?? null;
      const st = await stageStatus(spec, pipeline, db, upstream);
      const tag = `[${i + 1}/${stages.length}] ${spec.name}`;
      const map = isMapStage(spec, pipeline);
      const tasks: (FinishedTask | null)[] = [];
      if (map) {
        for (let t = 0; t < count; t++) {
          const up = prevTasks ? (prevTasks[t]?.marker.execution_id ?? null) : upstream;
          tasks.push(await finishedTask(spec, pipeline, db, { index: t, count }, up));
        }
      }
      if (st.reason !== null) {
        const missing = tasks.flatMap((t, k) => (t ? [] : [k]));
        if (map && missing.length) {
          result.waiting = { stage: spec.name, partitions: missing };
          log.info(
            'partition.wait',
            `${tag}: partition(s) ${arraySpec(missing)} of ${count} not finished; stopping here (run them with \`run --shard i/${count}\`)`,
            { stage: spec.name, partitions: missing, count },
          );
          return result;
        }
      }
      const finished = tasks as FinishedTask[];
      prev = await skipOrExecute({
        spec,
        index: i,
        pipeline,
        db,
        status: st,
        dir,
        scratchRoot,
        prev,
        done,
        result,
        tag,
        log,
        ...(map ? { produce: (ctx: StageContext) => mergePartitions(db!, spec, { input: ctx.input, tasks: finished, dir: ctx.dir }), startMessage: `merging ${count} partitions` } : {}),
      });
      prevTasks = map ? tasks : null;
    }
    await finalizeRun(result, opts.finalize);
    return result;
  } finally {
    db?.close();
    await rm(scratchRoot, { recursive: true, force: true }).catch(() => undefined);
    await release().catch(() => undefined);
  }
}
