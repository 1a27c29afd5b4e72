import { toNumber, type Db } from '../../core/db.js';

/** DuckDB's Parquet writer cuts row groups at its 2048-row vectors, never inside one. */
export const DUCKDB_VECTOR_ROWS = 2048;

export interface ShardLayoutLimits {
  maxRowsPerShard: number;
  shardBytes: number;
  rowGroupRows: number;
  rowGroupBytes: number;
}

/** One planned row group: rows rn in [lo, hi) of its split, and their estimated bytes. */
export interface PlannedGroup {
  lo: number;
  hi: number;
  bytes: number;
}

export interface PlannedFile {
  rows: number;
  bytes: number;
  groups: PlannedGroup[];
}

/**
 * Cut each split's rows (in shard order, `rn`) into files and row groups by row count and by
 * estimated uncompressed bytes, deterministically. A greedy cut by a running sum: a row goes to
 * piece floor(bytes before it / (cap - largest row)) so no piece passes the cap, plus
 * floor(rn / row cap) so none passes the row cap either; the two steps are summed and renumbered.
 * `table` must hold split, rn and bytes (the estimate of row-bytes-sql.ts).
 */
export async function planShardLayout(db: Db, table: string, limits: ShardLayoutLimits): Promise<Map<string, PlannedFile[]>> {
  const groupRows = Math.min(limits.rowGroupRows, DUCKDB_VECTOR_ROWS);
  const rows = await db.all<{ split: string; file: unknown; grp: unknown; lo: unknown; hi: unknown; bytes: unknown }>(
    `WITH r AS (
       SELECT split, rn, bytes,
              sum(bytes) OVER (PARTITION BY split ORDER BY rn ROWS UNBOUNDED PRECEDING) - bytes AS before,
              max(bytes) OVER (PARTITION BY split) AS largest
       FROM ${table}),
     f AS (
       SELECT *, dense_rank() OVER (PARTITION BY split ORDER BY rn // $maxRows::BIGINT + before // greatest(1, $fileBytes::BIGINT - largest)) - 1 AS file
       FROM r),
     g AS (
       SELECT *, rn - min(rn) OVER w AS rn_in_file, before - min(before) OVER w AS before_in_file
       FROM f WINDOW w AS (PARTITION BY split, file)),
     h AS (
       SELECT *, dense_rank() OVER (PARTITION BY split, file ORDER BY rn_in_file // $groupRows::BIGINT + before_in_file // greatest(1, $groupBytes::BIGINT - largest)) - 1 AS grp
       FROM g)
     SELECT split, file, grp, min(rn) AS lo, max(rn) + 1 AS hi, sum(bytes) AS bytes
     FROM h GROUP BY split, file, grp ORDER BY split, file, grp`,
    { maxRows: limits.maxRowsPerShard, fileBytes: limits.shardBytes, groupRows, groupBytes: limits.rowGroupBytes },
  );
  const out = new Map<string, PlannedFile[]>();
  for (const r of rows) {
    const files = out.get(r.split) ?? [];
    out.set(r.split, files);
    const i = toNumber(r.file);
    const f = (files[i] ??= { rows: 0, bytes: 0, groups: [] });
    const g = { lo: toNumber(r.lo), hi: toNumber(r.hi), bytes: toNumber(r.bytes) };
    f.groups.push(g);
    f.rows += g.hi - g.lo;
    f.bytes += g.bytes;
  }
  return out;
}
