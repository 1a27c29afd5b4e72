import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { syncDir } from './atomic.js';
import { Db, sqlList, toNumber } from './db.js';
import { StageError, UserlmError } from './errors.js';
import { hashValue, sha256File } from './hash.js';
import type { Logger } from './logger.js';
import { markerFilesIntact, readMarker, writeMarker, MARKER_FILE, type FileEntry, type StageMarker } from './marker.js';
import { acquireRunLock } from './run-lock.js';
import { DATA_FILE, DROPS_FILE, SAMPLE_DROPS_FILE, type StageSpec } from './stage.js';

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
  const db = opts.db ?? (await openPipelineDb(pipeline, join(scratchRoot, 'duckdb')));
  const result: RunResult = { markers: [], executed: [], skipped: [] };
  try {
    // Leftovers of a killed run: never visible as stage output, safe to remove.
    for (const ent of await readdir(runDir)) {
      if (ent.startsWith('.') && ent.includes('.tmp-')) await rm(join(runDir, ent), { recursive: true, force: true });
    }
    let prev: StageMarker | null = null;
    let mustRun = false;
    for (const [i, spec] of stages.entries()) {
      const name = stageDirName(i, spec);
      const dir = join(runDir, name);
      const fp = await fingerprint(spec, pipeline, db, prev);
      const existing = await readMarker(dir);
      if (!mustRun && existing && existing.fingerprint === fp && (await markerFilesIntact(dir, existing))) {
        log.info('stage.skip', `[${i + 1}/${stages.length}] ${spec.name}: up to date, skipped`, { stage: spec.name });
        result.skipped.push(spec.name);
        result.markers.push(existing);
        prev = existing;
        continue;
      }
      mustRun = true;
      const started = performance.now();
      log.info('stage.start', `[${i + 1}/${stages.length}] ${spec.name}: running`, { stage: spec.name });
      const tmp = join(runDir, `.${name}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
      const scratchDir = join(scratchRoot, name);
      await mkdir(tmp, { recursive: true });
      await mkdir(scratchDir, { recursive: true });
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
        for (const rel of await listFiles(tmp)) {
          const { sha256, bytes } = await sha256File(join(tmp, rel));
          files.push({ path: rel, bytes, sha256 });
        }
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
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
        await syncDir(runDir);
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
        await rm(tmp, { recursive: true, force: true });
        if (e instanceof UserlmError) throw e;
        throw new StageError(`stage ${spec.name} failed: ${(e as Error).message}`, { cause: e });
      } finally {
        await rm(scratchDir, { recursive: true, force: true });
      }
    }
    // Still under the lock, so that publishing the result cannot race another run.
    if (opts.finalize) await opts.finalize(result);
    return result;
  } finally {
    if (!opts.db) db.close();
    await rm(scratchRoot, { recursive: true, force: true });
    await release();
  }
}
