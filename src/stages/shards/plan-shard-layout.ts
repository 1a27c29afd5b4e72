import type { DuckDBBigIntVector, DuckDBVarCharVector } from '@duckdb/node-api';
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
 * `table` must hold split, rn and bytes (the estimate of row-bytes-sql.ts), and a scan of it must
 * give the rows in shard order (each split's rows together, rn = 0, 1, ... within it), which
 * is checked. One streamed pass in JavaScript: the same cut as window functions over the
 * running sums took the process from 3.10 to 3.93 GiB on a synthetic plan of 8M samples (a
 * scratch measurement), more than the sort that put the rows in that order.
 */
export async function planShardLayout(db: Db, table: string, limits: ShardLayoutLimits): Promise<Map<string, PlannedFile[]>> {
  const groupRows = Math.min(limits.rowGroupRows, DUCKDB_VECTOR_ROWS);
  const largest = new Map(
    (await db.all<{ split: string; largest: unknown }>(`SELECT split, max(bytes) AS largest FROM ${table} GROUP BY split`)).map((r) => [r.split, toNumber(r.largest)]),
  );
  const out = new Map<string, PlannedFile[]>();
  const stream = await db.conn.stream(`SELECT split, rn::BIGINT, bytes::BIGINT FROM ${table}`);
  let split: string | undefined;
  let files: PlannedFile[] = [];
  let rn = 0;
  let before = 0;
  let fileKey = -1;
  let fileRn = 0;
  let fileBefore = 0;
  let groupKey = -1;
  let group: PlannedGroup | undefined;
  let fileStep = 1;
  let groupStep = 1;
  for (let chunk = await stream.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await stream.fetchChunk()) {
    const splits = chunk.getColumnVector(0) as DuckDBVarCharVector;
    const rns = chunk.getColumnVector(1) as DuckDBBigIntVector;
    const sizes = chunk.getColumnVector(2) as DuckDBBigIntVector;
    for (let i = 0; i < chunk.rowCount; i++) {
      const s = splits.getItem(i)!;
      if (s !== split) {
        if (out.has(s)) throw new Error(`shard layout: ${table} holds split ${s} in more than one run of rows`);
        split = s;
        files = [];
        out.set(s, files);
        rn = 0;
        before = 0;
        fileKey = -1;
        const big = largest.get(s)!;
        fileStep = Math.max(1, limits.shardBytes - big);
        groupStep = Math.max(1, limits.rowGroupBytes - big);
      }
      if (Number(rns.getItem(i)) !== rn) throw new Error(`shard layout: ${table} gives row rn ${String(rns.getItem(i))} of split ${s} where ${rn} was next`);
      const bytes = Number(sizes.getItem(i));
      const fk = Math.floor(rn / limits.maxRowsPerShard) + Math.floor(before / fileStep);
      if (fk !== fileKey) {
        fileKey = fk;
        fileRn = rn;
        fileBefore = before;
        groupKey = -1;
        files.push({ rows: 0, bytes: 0, groups: [] });
      }
      const file = files[files.length - 1]!;
      const gk = Math.floor((rn - fileRn) / groupRows) + Math.floor((before - fileBefore) / groupStep);
      if (gk !== groupKey) {
        groupKey = gk;
        group = { lo: rn, hi: rn, bytes: 0 };
        file.groups.push(group);
      }
      group!.hi = rn + 1;
      group!.bytes += bytes;
      file.rows++;
      file.bytes += bytes;
      before += bytes;
      rn++;
    }
  }
  return out;
}
