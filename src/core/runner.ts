import { randomUUID } from 'node:crypto';
import { collectGarbage } from './collect-garbage.js';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { syncDir, syncFile } from './atomic.js';
import { Db, sqlList, toNumber } from './db.js';
import { StageError, UserlmError } from './errors.js';
import { fsFailure } from './fs-failure.js';
import { hashValue, sha256File } from './hash.js';
import type { Logger } from './logger.js';
import { markerFilesIntact, readMarker, writeMarker, MARKER_FILE, type FileEntry, type StageMarker } from './marker.js';
import { acquireRunLock, LOCK_FILE } from './run-lock.js';
import { DATA_FILE, DROPS_FILE, NUM_SAMPLES_COLUMN, SAMPLE_DROPS_FILE, type AnyStageSpec, type ResultOf, type StageContext, type StageCounts, type StageOutcome, type StageResult, type StageSpec } from './stage.js';
import { processAlive } from './process-alive.js';
import { checkStageGuards } from './stage-guards.js';
import { DEFAULT_MEMORY_LIMIT, duckdbSize, memoryPlan } from './memory-budget.js';

/** A stage's directory: runs/<name>/<stage>/, named by the stage alone so that adding one renames nothing. */
export function stageDir(runDir: string, spec: Pick<StageSpec, 'name'>): string {
  return join(runDir, spec.name);
}

/** Names in the run directory that are not stages. */
const RESERVED_NAMES = new Set(['cache', 'hub', 'report.html', LOCK_FILE]);

/** DuckDB for a run: its memory_limit is what engine.memory_limit leaves after the JavaScript side (memory-budget.ts). */
export async function openPipelineDb(pipeline: LoadedPipeline, tempDirectory?: string): Promise<Db> {
  const e = pipeline.config.engine;
  const plan = memoryPlan(e.memory_limit, e.threads, pipeline.file);
  return Db.open({ threads: e.threads, memoryLimit: duckdbSize(plan.duckdb), budget: e.memory_limit ?? DEFAULT_MEMORY_LIMIT, tempDirectory });
}

export async function stageFingerprint(spec: AnyStageSpec, pipeline: LoadedPipeline, db: Db, upstream: string | null): Promise<string> {
  return hashValue({
    stage: spec.name,
    version: spec.version,
    options: spec.options(pipeline),
    upstream,
    external: spec.externalInputs ? await spec.externalInputs(pipeline, db) : null,
  });
}

/**
 * Whether a stage's directory holds an up-to-date result: the one test `plan` reports and
 * `run` skips on. `upstream` is the execution id of the previous stage (null for the first).
 */
export async function stageStatus(
  spec: AnyStageSpec,
  pipeline: LoadedPipeline,
  db: Db,
  upstream: string | null,
): Promise<{ fingerprint: string; marker: StageMarker | null; reason: string | null }> {
  const dir = stageDir(pipeline.config.run_dir, spec);
  const fp = await stageFingerprint(spec, pipeline, db, upstream);
  const marker = await readMarker(dir);
  if (!marker) return { fingerprint: fp, marker, reason: 'no completion marker' };
  if (marker.fingerprint !== fp) return { fingerprint: fp, marker, reason: 'options, inputs or code version changed' };
  if (!(await markerFilesIntact(dir, marker))) return { fingerprint: fp, marker, reason: 'output files missing or changed' };
  return { fingerprint: fp, marker, reason: null };
}

export interface StagePlan {
  index: number;
  name: string;
  dir: string;
  status: 'done' | 'pending';
  reason: string;
  marker: StageMarker | null;
}

/** Which stages a run would skip and which it would execute. Writes nothing. */
export async function planPipeline(pipeline: LoadedPipeline, stages: AnyStageSpec[], db: Db): Promise<StagePlan[]> {
  const out: StagePlan[] = [];
  let upstream: string | null = null;
  let upstreamPending = false;
  for (const [i, spec] of stages.entries()) {
    const dir = stageDir(pipeline.config.run_dir, spec);
    const st: Awaited<ReturnType<typeof stageStatus>> | null = upstreamPending ? null : await stageStatus(spec, pipeline, db, upstream);
    const reason = upstreamPending ? 'an earlier stage will run' : st!.reason;
    const done = reason === null;
    out.push({ index: i, name: spec.name, dir, status: done ? 'done' : 'pending', reason: reason ?? 'up to date', marker: done ? st!.marker : null });
    if (!done) upstreamPending = true;
    upstream = st?.marker?.execution_id ?? null;
  }
  return out;
}

export interface RunResult {
  markers: StageMarker[];
  /** Every stage's typed result, in recipe order. */
  results: StageResult[];
  executed: string[];
  skipped: string[];
}

/** The typed result of one stage of a finished run (for callers outside the recipe: CLI, tests, benches). */
export function resultOf<S extends AnyStageSpec>(run: Pick<RunResult, 'results'>, spec: S): ResultOf<S> {
  const r = run.results.find((x) => x.stage === spec.name);
  if (!r) throw new StageError(`stage ${spec.name} is not part of this run`);
  return r as ResultOf<S>;
}

export async function countRows(db: Db, files: string[]): Promise<{ conversations: number; samples: number | null }> {
  if (files.length === 0) return { conversations: 0, samples: 0 };
  const cols = await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlList(files)})`);
  const isSamples = cols.some((c) => c.column_name === 'sample_id');
  // Stages after flip pass conversations on, each saying how many samples it will give.
  const perConversation = !isSamples && cols.some((c) => c.column_name === NUM_SAMPLES_COLUMN);
  const row = await db.one<{ c: unknown; s: unknown }>(
    `SELECT count(DISTINCT conversation_id) AS c, ${perConversation ? `coalesce(sum(${NUM_SAMPLES_COLUMN}), 0)` : 'count(*)'} AS s FROM read_parquet(${sqlList(files)})`,
  );
  return { conversations: toNumber(row.c), samples: isSamples || perConversation ? toNumber(row.s) : null };
}

async function countDrops(db: Db, file: string): Promise<Record<string, number>> {
  const rows = await db.all<{ reason: string; n: unknown }>(
    `SELECT reason, count(*) AS n FROM read_parquet(${sqlList([file])}) GROUP BY reason ORDER BY reason`,
  );
  return Object.fromEntries(rows.map((r) => [r.reason, toNumber(r.n)]));
}

/** The pid a leftover temp name carries (".<name>.tmp-<pid>-<random>"), or null. */
function leftoverPid(name: string): number | null {
  const m = /^\..*\.tmp-(\d+)-/.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * Remove what killed runs left behind: stage temp directories, staged lock files and the
 * scratch area. None of it is ever visible as stage output. A staged lock file of a live
 * process belongs to a run that is about to be refused the lock: leave it to that run.
 */
export async function removeLeftovers(runDir: string, scratchRoot: string): Promise<void> {
  for (const ent of await readdir(runDir)) {
    const pid = leftoverPid(ent);
    if (pid === null) continue;
    if (ent.startsWith(`.${LOCK_FILE}.`) && pid !== process.pid && processAlive(pid)) continue;
    await rm(join(runDir, ent), { recursive: true, force: true });
  }
  await rm(scratchRoot, { recursive: true, force: true });
}

/** fsync every file and directory under dir, so that a rename publishing it survives a power cut. */
async function syncTree(dir: string): Promise<void> {
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    if (ent.isDirectory()) await syncTree(join(dir, ent.name));
    else await syncFile(join(dir, ent.name));
  }
  await syncDir(dir);
}

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...(await listFiles(dir, r)));
    else if (ent.name !== MARKER_FILE) out.push(r);
  }
  return out.sort();
}

/** A finished stage as later stages see it, from its marker. */
export function resultFromMarker(dir: string, marker: StageMarker): StageResult<unknown, string> {
  const published = marker.published ?? {};
  return {
    stage: marker.stage,
    conversations_in: marker.conversations_in,
    conversations_out: marker.conversations_out,
    samples_out: marker.samples_out,
    drops: marker.drops,
    ...(marker.sample_drops ? { samples_in: marker.samples_in, sample_drops: marker.sample_drops } : {}),
    notes: marker.notes,
    data: join(dir, DATA_FILE),
    files: Object.fromEntries(Object.entries(published).map(([k, rel]) => [k, join(dir, rel)])),
    written: marker.files,
  };
}

export function countsOf(r: StageResult): StageCounts & { stage: string } {
  const { stage, conversations_in, conversations_out, samples_out, drops, samples_in, sample_drops } = r;
  return { stage, conversations_in, conversations_out, samples_out, drops, ...(sample_drops ? { samples_in, sample_drops } : {}) };
}

/** The stages a spec declared in `needs`, each of which must have finished before it. */
export function neededResults(spec: AnyStageSpec, done: Map<AnyStageSpec, StageResult>): Record<string, StageResult> {
  const out: Record<string, StageResult> = {};
  for (const [key, dep] of Object.entries<AnyStageSpec>(spec.needs ?? {})) {
    const r = done.get(dep);
    if (!r) throw new StageError(`stage ${spec.name} needs stage ${dep.name}, which does not run before it in the recipe. This is a bug in userlm-data.`);
    out[key] = r;
  }
  return out;
}

/** in = out + dropped, or the stage lost rows without saying why. */
function checkAccounting(stage: string, unit: 'conversations' | 'samples', rowsIn: number, rowsOut: number, drops: Record<string, number>): void {
  const dropped = Object.values(drops).reduce((a, b) => a + b, 0);
  if (rowsIn === rowsOut + dropped) return;
  throw new StageError(
    `accounting broken in stage ${stage}: ${rowsIn} ${unit} in, ${rowsOut} out, ${dropped} dropped ` +
      `(${rowsIn - rowsOut - dropped} unaccounted). This is a bug in userlm-data; please report it with the pipeline file.`,
  );
}

/** Counts a finished stage's outputs and drops, and holds it to its accounting. */
async function countStage(
  db: Db,
  spec: AnyStageSpec,
  tmp: string,
  outcome: StageOutcome,
  prev: StageCounts | null,
): Promise<{ counts: StageCounts; written: string[] }> {
  const counted = await countRows(db, (outcome.outputs ?? [DATA_FILE]).map((f) => join(tmp, f)));
  const written = await listFiles(tmp);
  const drops = written.includes(DROPS_FILE) ? await countDrops(db, join(tmp, DROPS_FILE)) : {};
  const conversationsIn = outcome.conversationsIn ?? prev?.conversations_out;
  if (conversationsIn === undefined) throw new StageError(`stage ${spec.name} did not report how many conversations it read`);
  checkAccounting(spec.name, 'conversations', conversationsIn, counted.conversations, drops);
  const counts: StageCounts = { conversations_in: conversationsIn, conversations_out: counted.conversations, samples_out: counted.samples, drops };
  if (written.includes(SAMPLE_DROPS_FILE)) {
    const sampleDrops = await countDrops(db, join(tmp, SAMPLE_DROPS_FILE));
    const samplesIn = prev?.samples_out;
    if (samplesIn === null || samplesIn === undefined || counted.samples === null) {
      throw new StageError(`stage ${spec.name} dropped samples but its input or output holds no samples. This is a bug in userlm-data; please report it.`);
    }
    checkAccounting(spec.name, 'samples', samplesIn, counted.samples, sampleDrops);
    counts.samples_in = samplesIn;
    counts.sample_drops = sampleDrops;
  }
  return { counts, written };
}

/**
 * Stage directories of the numbered layout (`01-normalize/`) that this tool wrote before
 * stages were named by name alone: their marker names the stage. They are rebuilt under the
 * new names, so they are only stale copies; anything else is left alone.
 */
async function removeLegacyStageDirs(runDir: string, stages: AnyStageSpec[], log: Logger): Promise<void> {
  const names = new Set(stages.map((s) => s.name));
  for (const ent of await readdir(runDir)) {
    const m = /^\d\d-(.+)$/.exec(ent);
    if (!m || !names.has(m[1]!)) continue;
    const marker = await readMarker(join(runDir, ent));
    if (marker?.stage !== m[1]) continue;
    log.info('stage.legacy', `removing ${join(runDir, ent)}: stage directories are now named by stage (${m[1]}/); it will be rebuilt there`, { dir: ent });
    await rm(join(runDir, ent), { recursive: true, force: true });
  }
}

export function checkStageNames(stages: AnyStageSpec[]): void {
  const seen = new Set<string>();
  for (const s of stages) {
    if (seen.has(s.name) || RESERVED_NAMES.has(s.name) || s.name.startsWith('.') || s.name.includes('/')) {
      throw new StageError(`stage name ${JSON.stringify(s.name)} is repeated or reserved in the run directory. This is a bug in userlm-data.`);
    }
    seen.add(s.name);
  }
}

/**
 * Execute the stages in order. A stage whose marker matches is skipped; otherwise it writes
 * into a temporary directory that is renamed into place only after its marker is written,
 * so a crash leaves either a complete stage or none.
 */
export async function runPipeline(
  pipeline: LoadedPipeline,
  stages: AnyStageSpec[],
  opts: { log: Logger; db?: Db; finalize?: (result: RunResult) => Promise<void> },
): Promise<RunResult> {
  const { log } = opts;
  checkStageNames(stages);
  const runDir = pipeline.config.run_dir;
  const release = await acquireRunLock(runDir);
  const scratchRoot = join(runDir, '.scratch');
  let db: Db | undefined = opts.db;
  const result: RunResult = { markers: [], results: [], executed: [], skipped: [] };
  const done = new Map<AnyStageSpec, StageResult>();
  try {
    await removeLeftovers(runDir, scratchRoot)
      .then(() => removeLegacyStageDirs(runDir, stages, log))
      .catch((e) => {
        throw fsFailure(e, `cannot clean up ${runDir}`);
      });
    db ??= await openPipelineDb(pipeline, join(scratchRoot, 'duckdb'));
    let prev: StageResult | null = null;
    // A re-executed stage gets a new execution_id, which is part of the next stage's
    // fingerprint: everything after it reruns without further bookkeeping.
    for (const [i, spec] of stages.entries()) {
      const dir = stageDir(runDir, spec);
      const upstream = result.markers[i - 1]?.execution_id ?? null;
      const st = await stageStatus(spec, pipeline, db, upstream);
      const progressTag = `[${i + 1}/${stages.length}] ${spec.name}`;
      prev = await skipOrExecute({ spec, index: i, pipeline, db, status: st, dir, scratchRoot, prev, done, result, tag: progressTag, log });
    }
    await finalizeRun(result, opts.finalize);
    return result;
  } finally {
    if (!opts.db) db?.close();
    await rm(scratchRoot, { recursive: true, force: true }).catch(() => undefined);
    await release().catch(() => undefined);
  }
}

/**
 * One stage of a whole run (runPipeline, and runReduce over partitions): skipped when its
 * marker matches, else executed (by `produce` when given), then recorded in result and done.
 */
export async function skipOrExecute(o: {
  spec: AnyStageSpec;
  index: number;
  pipeline: LoadedPipeline;
  db: Db;
  status: Awaited<ReturnType<typeof stageStatus>>;
  dir: string;
  scratchRoot: string;
  prev: StageResult | null;
  done: Map<AnyStageSpec, StageResult>;
  result: RunResult;
  tag: string;
  log: Logger;
  produce?: (ctx: StageContext) => Promise<StageOutcome<unknown, string>>;
  startMessage?: string;
}): Promise<StageResult> {
  const { spec, status: st, result, log, tag, prev } = o;
  let marker: StageMarker;
  if (st.reason === null) {
    log.info('stage.skip', `${tag}: up to date, skipped`, { stage: spec.name });
    result.skipped.push(spec.name);
    marker = st.marker!;
  } else {
    log.info('stage.start', `${tag}: ${o.startMessage ?? 'running'}`, { stage: spec.name });
    marker = await executeStage({
      spec,
      index: o.index,
      pipeline: o.pipeline,
      db: o.db,
      fingerprint: st.fingerprint,
      dir: o.dir,
      scratchDir: join(o.scratchRoot, spec.name),
      input: prev?.data ?? null,
      prev,
      needs: neededResults(spec, o.done),
      earlier: result.results.map(countsOf),
      guards: true,
      ...(o.produce ? { produce: o.produce } : {}),
      tag,
      log,
    });
    result.executed.push(spec.name);
  }
  const r = resultFromMarker(o.dir, marker);
  result.markers.push(marker);
  result.results.push(r);
  o.done.set(spec, r);
  return r;
}

/** Publishing a finished run, still under the run lock so that it cannot race another run. */
export async function finalizeRun(result: RunResult, finalize?: (result: RunResult) => Promise<void>): Promise<void> {
  if (!finalize) return;
  try {
    await finalize(result);
  } catch (e) {
    throw fsFailure(e, 'cannot publish the finished dataset');
  }
}

/** CPU seconds of the whole process (every thread: workers and DuckDB's included) since `from`. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return Math.round((u.user + u.system) / 1e4) / 100;
}

function dropSummary(counts: StageCounts): string {
  return [
    ...Object.entries(counts.drops).map(([r, n]) => `${r} ${n}`),
    ...Object.entries(counts.sample_drops ?? {}).map(([r, n]) => `${r} ${n} samples`),
  ].join(', ');
}

/**
 * Run one stage (or one partition of it) into a temporary directory next to `dir`, then put
 * it in place with its marker. `produce` replaces the stage's own run (merging partitions);
 * `extra` adds fields to the marker (the partition a task marker covers).
 */
export async function executeStage(args: {
  spec: AnyStageSpec;
  index: number;
  pipeline: LoadedPipeline;
  db: Db;
  fingerprint: string;
  /** The directory the result ends up in. */
  dir: string;
  scratchDir: string;
  input: string | null;
  /** Counts of what the stage reads (null for the first stage). */
  prev: StageCounts | null;
  needs: Record<string, StageResult>;
  earlier: (StageCounts & { stage: string })[];
  /** Empty-output and max_drop_fraction guards: for whole stages, not for one partition. */
  guards: boolean;
  produce?: (ctx: StageContext) => Promise<StageOutcome<unknown, string>>;
  extra?: Record<string, unknown>;
  /** "[i/n] name", for log lines. */
  tag: string;
  log: Logger;
}): Promise<StageMarker> {
  const { spec, index, pipeline, db, prev, log, dir, scratchDir } = args;
  const parent = dirname(dir);
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    await mkdir(tmp, { recursive: true });
    await mkdir(scratchDir, { recursive: true });
  } catch (e) {
    throw fsFailure(e, `stage ${spec.name}: cannot create its directory in ${parent}`);
  }
  try {
    const ctx: StageContext = { db, pipeline, dir: tmp, input: args.input, needs: args.needs, earlier: args.earlier, scratchDir, log };
    const outcome: StageOutcome<unknown, string> = await (args.produce ?? spec.run)(ctx);

    const { counts, written } = await countStage(db, spec, tmp, outcome, prev);
    if (args.guards) await checkStageGuards(db, pipeline, spec.name, tmp, written, counts);
    const files: FileEntry[] = [];
    for (const rel of written) {
      const { sha256, bytes } = await sha256File(join(tmp, rel));
      files.push({ path: rel, bytes, sha256 });
    }
    // Outputs reach the disk before the marker that vouches for them.
    await syncTree(tmp);
    const marker: StageMarker = {
      stage: spec.name,
      index,
      version: spec.version,
      fingerprint: args.fingerprint,
      execution_id: randomUUID(),
      ...args.extra,
      ...counts,
      notes: outcome.notes ?? {},
      ...(outcome.publish ? { published: outcome.publish } : {}),
      files,
      seconds: Math.round((performance.now() - started) / 10) / 100,
      cpu_seconds: cpuSeconds(cpuStarted),
      finished_at: new Date().toISOString(),
    };
    await writeMarker(tmp, marker);
    // The outdated directory is renamed aside (a leftover name) before the new one takes
    // its place, so a crash in between leaves no half-deleted stage under the real name.
    const aside = join(parent, `.${basename(dir)}.tmp-${process.pid}-old-${randomUUID().slice(0, 8)}`);
    const hadOld = await rename(dir, aside).then(() => true, (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    });
    await rename(tmp, dir);
    await syncDir(parent);
    if (hadOld) await rm(aside, { recursive: true, force: true });
    const dropText = dropSummary(counts);
    log.info(
      'stage.done',
      `${args.tag}: ${counts.conversations_in} -> ${counts.conversations_out} conversations` +
        (counts.samples_out !== null ? `, ${counts.samples_out} samples` : '') +
        (dropText ? ` (dropped: ${dropText})` : '') +
        ` in ${marker.seconds}s`,
      { stage: spec.name, conversations_in: counts.conversations_in, conversations_out: counts.conversations_out, samples_out: counts.samples_out, drops: counts.drops, seconds: marker.seconds },
    );
    return marker;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof UserlmError) throw e;
    throw fsFailure(e, `stage ${spec.name} failed`);
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
    // What the stage let go of leaves memory now, not after the next stage has grown beside it.
    collectGarbage();
  }
}
