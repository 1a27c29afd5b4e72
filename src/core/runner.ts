import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { syncDir, syncFile } from './atomic.js';
import { Db, sqlList, toNumber } from './db.js';
import { StageError, UserlmError } from './errors.js';
import { fsFailure } from './fs-failure.js';
import { hashValue, sha256File } from './hash.js';
import type { Logger } from './logger.js';
import { markerFilesIntact, readMarker, writeMarker, MARKER_FILE, type FileEntry, type StageMarker } from './marker.js';
import { acquireRunLock, LOCK_FILE } from './run-lock.js';
import { DATA_FILE, DROPS_FILE, SAMPLE_DROPS_FILE, type StageSpec } from './stage.js';
import { processAlive } from './process-alive.js';

export function stageDirName(index: number, spec: StageSpec): string {
  return `${String(index + 1).padStart(2, '0')}-${spec.name}`;
}

/** Directory of the stage a marker describes. */
export function markerDir(runDir: string, marker: StageMarker): string {
  return join(runDir, `${String(marker.index + 1).padStart(2, '0')}-${marker.stage}`);
}

export async function openPipelineDb(pipeline: LoadedPipeline, tempDirectory?: string): Promise<Db> {
  const e = pipeline.config.engine;
  return Db.open({ threads: e.threads, memoryLimit: e.memory_limit, tempDirectory });
}

async function fingerprint(spec: StageSpec, pipeline: LoadedPipeline, db: Db, prev: StageMarker | null): Promise<string> {
  return hashValue({
    stage: spec.name,
    version: spec.version,
    options: spec.options(pipeline),
    upstream: prev?.execution_id ?? null,
    external: spec.externalInputs ? await spec.externalInputs(pipeline, db) : null,
  });
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
export async function planPipeline(pipeline: LoadedPipeline, stages: StageSpec[], db: Db): Promise<StagePlan[]> {
  const out: StagePlan[] = [];
  let prev: StageMarker | null = null;
  let upstreamPending = false;
  for (const [i, spec] of stages.entries()) {
    const dir = join(pipeline.config.run_dir, stageDirName(i, spec));
    const marker = await readMarker(dir);
    let reason = '';
    if (upstreamPending) reason = 'an earlier stage will run';
    else if (!marker) reason = 'no completion marker';
    else if (marker.fingerprint !== (await fingerprint(spec, pipeline, db, prev))) reason = 'options, inputs or code version changed';
    else if (!(await markerFilesIntact(dir, marker))) reason = 'output files missing or changed';
    const status = reason ? 'pending' : 'done';
    out.push({ index: i, name: spec.name, dir, status, reason: reason || 'up to date', marker: status === 'done' ? marker : null });
    if (status === 'pending') upstreamPending = true;
    prev = marker;
  }
  return out;
}

export interface RunResult {
  markers: StageMarker[];
  executed: string[];
  skipped: string[];
}

async function countRows(db: Db, files: string[]): Promise<{ conversations: number; samples: number | null }> {
  if (files.length === 0) return { conversations: 0, samples: 0 };
  const cols = await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlList(files)})`);
  const isSamples = cols.some((c) => c.column_name === 'sample_id');
  const row = await db.one<{ c: unknown; s: unknown }>(
    `SELECT count(DISTINCT conversation_id) AS c, count(*) AS s FROM read_parquet(${sqlList(files)})`,
  );
  return { conversations: toNumber(row.c), samples: isSamples ? toNumber(row.s) : null };
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
async function removeLeftovers(runDir: string, scratchRoot: string): Promise<void> {
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

/**
 * Execute the stages in order. A stage whose marker matches is skipped; otherwise it writes
 * into a temporary directory that is renamed into place only after its marker is written,
 * so a crash leaves either a complete stage or none.
 */
export async function runPipeline(
  pipeline: LoadedPipeline,
  stages: StageSpec[],
  opts: { log: Logger; db?: Db; finalize?: (result: RunResult) => Promise<void> },
): Promise<RunResult> {
  const { log } = opts;
  const runDir = pipeline.config.run_dir;
  const release = await acquireRunLock(runDir);
  const scratchRoot = join(runDir, '.scratch');
  let db: Db | undefined = opts.db;
  const result: RunResult = { markers: [], executed: [], skipped: [] };
  try {
    await removeLeftovers(runDir, scratchRoot).catch((e) => {
      throw fsFailure(e, `cannot clean up ${runDir}`);
    });
    db ??= await openPipelineDb(pipeline, join(scratchRoot, 'duckdb'));
    let prev: StageMarker | null = null;
    // A re-executed stage gets a new execution_id, which is part of the next stage's
    // fingerprint: everything after it reruns without further bookkeeping.
    for (const [i, spec] of stages.entries()) {
      const name = stageDirName(i, spec);
      const dir = join(runDir, name);
      const fp = await fingerprint(spec, pipeline, db, prev);
      const existing = await readMarker(dir);
      if (existing && existing.fingerprint === fp && (await markerFilesIntact(dir, existing))) {
        log.info('stage.skip', `[${i + 1}/${stages.length}] ${spec.name}: up to date, skipped`, { stage: spec.name });
        result.skipped.push(spec.name);
        result.markers.push(existing);
        prev = existing;
        continue;
      }
      const started = performance.now();
      log.info('stage.start', `[${i + 1}/${stages.length}] ${spec.name}: running`, { stage: spec.name });
      const tmp = join(runDir, `.${name}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
      const scratchDir = join(scratchRoot, name);
      try {
        await mkdir(tmp, { recursive: true });
        await mkdir(scratchDir, { recursive: true });
      } catch (e) {
        throw fsFailure(e, `stage ${spec.name}: cannot create its directory in ${runDir}`);
      }
      try {
        const prevDir = prev ? join(runDir, stageDirName(i - 1, stages[i - 1]!)) : null;
        const outcome = await spec.run({
          db,
          pipeline,
          dir: tmp,
          input: prevDir ? join(prevDir, DATA_FILE) : null,
          previous: [...result.markers],
          scratchDir,
          log,
        });
        const outputs = (outcome.outputs ?? [DATA_FILE]).map((f) => join(tmp, f));
        const counted = await countRows(db, outputs);
        const dropsPath = join(tmp, DROPS_FILE);
        const written = await listFiles(tmp);
        const drops = written.includes(DROPS_FILE) ? await countDrops(db, dropsPath) : {};
        const conversationsIn = outcome.conversationsIn ?? prev?.conversations_out;
        if (conversationsIn === undefined) throw new StageError(`stage ${spec.name} did not report how many conversations it read`);
        const dropped = Object.values(drops).reduce((a, b) => a + b, 0);
        if (conversationsIn !== counted.conversations + dropped) {
          throw new StageError(
            `accounting broken in stage ${spec.name}: ${conversationsIn} conversations in, ${counted.conversations} out, ${dropped} dropped ` +
              `(${conversationsIn - counted.conversations - dropped} unaccounted). This is a bug in userlm-data; please report it with the pipeline file.`,
          );
        }
        let sampleAccounting: { samples_in: number; sample_drops: Record<string, number> } | null = null;
        if (written.includes(SAMPLE_DROPS_FILE)) {
          const sampleDrops = await countDrops(db, join(tmp, SAMPLE_DROPS_FILE));
          const samplesIn = prev?.samples_out;
          if (samplesIn === null || samplesIn === undefined || counted.samples === null) {
            throw new StageError(`stage ${spec.name} dropped samples but its input or output holds no samples. This is a bug in userlm-data; please report it.`);
          }
          const droppedSamples = Object.values(sampleDrops).reduce((a, b) => a + b, 0);
          if (samplesIn !== counted.samples + droppedSamples) {
            throw new StageError(
              `accounting broken in stage ${spec.name}: ${samplesIn} samples in, ${counted.samples} out, ${droppedSamples} dropped ` +
                `(${samplesIn - counted.samples - droppedSamples} unaccounted). This is a bug in userlm-data; please report it with the pipeline file.`,
            );
          }
          sampleAccounting = { samples_in: samplesIn, sample_drops: sampleDrops };
        }
        const files: FileEntry[] = [];
        for (const rel of written) {
          const { sha256, bytes } = await sha256File(join(tmp, rel));
          files.push({ path: rel, bytes, sha256 });
        }
        // Outputs reach the disk before the marker that vouches for them.
        await syncTree(tmp);
        const marker: StageMarker = {
          stage: spec.name,
          index: i,
          version: spec.version,
          fingerprint: fp,
          execution_id: randomUUID(),
          conversations_in: conversationsIn,
          conversations_out: counted.conversations,
          samples_out: counted.samples,
          drops,
          ...(sampleAccounting ?? {}),
          notes: outcome.notes ?? {},
          files,
          seconds: Math.round((performance.now() - started) / 10) / 100,
          finished_at: new Date().toISOString(),
        };
        await writeMarker(tmp, marker);
        // The outdated directory is renamed aside (a leftover name) before the new one takes
        // its place, so a crash in between leaves no half-deleted stage under the real name.
        const aside = join(runDir, `.${name}.tmp-${process.pid}-old-${randomUUID().slice(0, 8)}`);
        const hadOld = await rename(dir, aside).then(() => true, (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return false;
          throw e;
        });
        await rename(tmp, dir);
        await syncDir(runDir);
        if (hadOld) await rm(aside, { recursive: true, force: true });
        const dropText = [
          ...Object.entries(drops).map(([r, n]) => `${r} ${n}`),
          ...Object.entries(sampleAccounting?.sample_drops ?? {}).map(([r, n]) => `${r} ${n} samples`),
        ].join(', ');
        log.info(
          'stage.done',
          `[${i + 1}/${stages.length}] ${spec.name}: ${conversationsIn} -> ${counted.conversations} conversations` +
            (counted.samples !== null ? `, ${counted.samples} samples` : '') +
            (dropText ? ` (dropped: ${dropText})` : '') +
            ` in ${marker.seconds}s`,
          { stage: spec.name, conversations_in: conversationsIn, conversations_out: counted.conversations, samples_out: counted.samples, drops, seconds: marker.seconds },
        );
        result.executed.push(spec.name);
        result.markers.push(marker);
        prev = marker;
      } catch (e) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        if (e instanceof UserlmError) throw e;
        throw fsFailure(e, `stage ${spec.name} failed`);
      } finally {
        await rm(scratchDir, { recursive: true, force: true });
      }
    }
    // Still under the lock, so that publishing the result cannot race another run.
    if (opts.finalize) {
      try {
        await opts.finalize(result);
      } catch (e) {
        throw fsFailure(e, 'cannot publish the finished dataset');
      }
    }
    return result;
  } finally {
    if (!opts.db) db?.close();
    await rm(scratchRoot, { recursive: true, force: true }).catch(() => undefined);
    await release().catch(() => undefined);
  }
}
