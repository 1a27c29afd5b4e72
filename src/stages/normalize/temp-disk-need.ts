import { stat } from 'node:fs/promises';
import { sqlString, toNumber, type Db } from '../../core/db.js';

// Normalize puts every source's text into one DuckDB table sorted into source order; past
// DuckDB's memory_limit that table and the sort spill to run_dir/.scratch/duckdb. Measured on
// the bench's realistic corpus (make bench, 2026-12-03): at 1M conversations (6.4 GB of
// uncompressed Parquet) the spill directory peaked at 12.6 GB, at 3M (19.3 GB) at 41 GB:
// about twice the sources' uncompressed size. The stage's own data.parquet comes on top.
export const SPILL_FACTOR = 2;

export interface TempDiskNeed {
  /** Bytes the sources hold uncompressed (Parquet: its metadata; other files: their size). */
  sourceBytes: number;
  /** Bytes of temporary space normalize may need beside its output: 0 when the text fits in DuckDB's memory. */
  spillBytes: number;
}

/** What normalize may spill for these source files when DuckDB may hold `memoryBytes` (its memory_limit). */
export async function tempDiskNeed(db: Db, paths: string[], memoryBytes: number): Promise<TempDiskNeed> {
  let sourceBytes = 0;
  for (const p of paths) {
    let bytes: number | null = null;
    if (/\.parquet$/i.test(p)) {
      try {
        bytes = toNumber((await db.one<{ u: unknown }>(`SELECT coalesce(sum(total_uncompressed_size), 0) AS u FROM parquet_metadata(${sqlString(p)})`)).u);
      } catch {
        // A damaged file: the read that follows names it and says what to do.
      }
    }
    // JSON lines and the like: the text is about the file's size (a compressed file holds more).
    sourceBytes += bytes ?? (await stat(p)).size;
  }
  return { sourceBytes, spillBytes: sourceBytes > memoryBytes ? SPILL_FACTOR * sourceBytes : 0 };
}

const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;

/** The warning to give when the run directory's disk has less free space than the spill may take, or null. */
export function tempDiskWarning(need: TempDiskNeed, freeBytes: number, runDir: string): string | null {
  if (need.spillBytes <= freeBytes) return null;
  return (
    `normalize may need about ${gb(need.spillBytes)} of temporary disk in ${runDir}/.scratch (about ${SPILL_FACTOR}x the sources' ` +
    `${gb(need.sourceBytes)} of uncompressed data, which does not fit in DuckDB's memory), and that disk has ${gb(freeBytes)} free. ` +
    'If the disk fills, the run stops there (finished stages are kept): free space, or set run_dir to a larger disk.'
  );
}
