import { availableParallelism } from 'node:os';
import type { Db } from './db.js';
import { ConfigError } from './errors.js';

// engine.memory_limit is the whole process's budget, not DuckDB's alone. The JavaScript side
// is bounded by construction (text streams through in batches; no stage holds an object per
// conversation) and its fixed costs are known, so they are set aside first: the main thread,
// and each worker thread (a tokenize worker holds its own tokenizer, merge table and caches,
// about 160 MB of RSS over 100k realistic messages, measured once, plus the isolate). DuckDB gets the rest as its memory_limit and
// spills to run_dir past it. Worker threads are capped so that they take at most half of the
// budget: a larger machine uses more cores once the budget is raised.

export const DEFAULT_MEMORY_LIMIT = '4GiB';

const MIB = 2 ** 20;
/** Node itself, the main thread's tokenizer (loaded to check the config) and the batches in flight. */
export const MAIN_THREAD_RESERVE = 768 * MIB;
/** One worker thread: its isolate, a tokenizer with its caches, and the batches it holds. */
export const WORKER_THREAD_RESERVE = 320 * MIB;
/** Below this DuckDB cannot do its work at all. */
const DUCKDB_FLOOR = 256 * MIB;

const UNITS: Record<string, number> = { B: 1, BYTES: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** Bytes of a size such as "4GiB" or "512 MB" (the schema's pattern), or as DuckDB prints one ("3.7 GiB", "0 bytes"). */
export function parseBytes(size: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)$/.exec(size.trim());
  const unit = m ? UNITS[m[2]!.toUpperCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`not a size: ${JSON.stringify(size)} (e.g. 4GiB, 512MB)`);
  return Math.floor(Number(m[1]) * unit);
}

export interface MemoryPlan {
  /** The whole budget, bytes. */
  total: number;
  /** DuckDB's memory_limit, bytes. */
  duckdb: number;
  /** The most worker threads a stage may start at once. */
  maxWorkers: number;
}

/**
 * How a budget is shared. `threads` is engine.threads (default: the cores); workers are
 * wanted one per thread. Throws a ConfigError naming engine.memory_limit when the budget
 * cannot hold the main thread and a working DuckDB.
 */
export function memoryPlan(limit: string | undefined, threads: number | undefined, file = 'pipeline', cores = availableParallelism()): MemoryPlan {
  const total = parseBytes(limit ?? DEFAULT_MEMORY_LIMIT);
  const minimum = MAIN_THREAD_RESERVE + DUCKDB_FLOOR;
  if (total < minimum) {
    throw new ConfigError([
      { file, path: 'engine.memory_limit', message: `${limit ?? DEFAULT_MEMORY_LIMIT} is below the least a run needs (${Math.ceil(minimum / MIB)} MiB: the main thread and DuckDB); raise it or remove it (default ${DEFAULT_MEMORY_LIMIT})` },
    ]);
  }
  const wanted = threads ?? cores;
  const fit = Math.floor((total / 2 - MAIN_THREAD_RESERVE) / WORKER_THREAD_RESERVE);
  const maxWorkers = Math.max(0, Math.min(wanted, fit));
  const duckdb = total - MAIN_THREAD_RESERVE - maxWorkers * WORKER_THREAD_RESERVE;
  return { total, duckdb, maxWorkers };
}

/** DuckDB's setting for a number of bytes, in whole MiB. */
export function duckdbSize(bytes: number): string {
  return `${Math.floor(bytes / MIB)}MiB`;
}

/** DuckDB's memory_limit in bytes, as current_setting reports it ('3.7 GiB', '500.0 MiB', ...). */
export async function duckdbMemoryLimitBytes(db: Db): Promise<number> {
  const { v } = await db.one<{ v: string }>(`SELECT current_setting('memory_limit') AS v`);
  return parseBytes(v);
}

/**
 * Conversations per range when per-conversation lists are built a range at a time: about
 * 8 KiB of DuckDB memory each, at least 10,000. DuckDB holds list aggregates in memory; one
 * GROUP BY over 2.66M realistic conversations' samples took more than its 2.6 GiB share.
 */
export function aggregationRange(duckdbBytes: number): number {
  return Math.max(AGGREGATION.minRows, Math.floor(duckdbBytes / AGGREGATION.bytesPerRow));
}

/** aggregationRange's constants; a test lowers them to make the sample take many ranges. */
export const AGGREGATION = { bytesPerRow: 8192, minRows: 10_000 };
