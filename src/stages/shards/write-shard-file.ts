import { sqlString, toNumber, type Db } from '../../core/db.js';
import { StageError } from '../../core/errors.js';
import type { PlannedFile } from './plan-shard-layout.js';

export interface ShardWriteOptions {
  table: string;
  split: string;
  columns: string[];
  compressionLevel: number;
  rowGroupBytes: number;
  /** The `huggingface` key-value metadata (hf-features.ts). */
  hfMetadata: string;
}

/**
 * One shard file with exactly the planned row groups. DuckDB sizes row groups by rows only
 * while it keeps the query's order (ROW_GROUP_SIZE_BYTES needs preserve_insertion_order off),
 * so each planned group is its own ordered subquery: with ROW_GROUP_SIZE 1 the writer closes a
 * group at the end of every subquery (and at its 2048-row vectors, which the plan never
 * crosses). The written groups are read back: none may be larger than planned or pass the byte cap.
 */
export async function writeShardFile(db: Db, path: string, file: PlannedFile, o: ShardWriteOptions): Promise<void> {
  const parts = file.groups.map(
    (g) => `(SELECT ${o.columns.join(', ')} FROM ${o.table} WHERE split = $split AND rn >= ${g.lo} AND rn < ${g.hi} ORDER BY rn)`,
  );
  await db.run(
    `COPY (${parts.join(' UNION ALL ')}) TO ${sqlString(path)}
     (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${o.compressionLevel}, ROW_GROUP_SIZE 1,
      KV_METADATA {huggingface: ${sqlString(o.hfMetadata)}})`,
    { split: o.split },
  );
  const written = await db.all<{ rows: unknown; bytes: unknown }>(
    `SELECT row_group_num_rows AS rows, sum(total_uncompressed_size) AS bytes
     FROM parquet_metadata(${sqlString(path)}) GROUP BY row_group_id, row_group_num_rows ORDER BY row_group_id`,
  );
  // Fewer rows per group than planned is harmless; more rows, or other rows, is not.
  const rows = written.reduce((a, w) => a + toNumber(w.rows), 0);
  const most = Math.max(...file.groups.map((g) => g.hi - g.lo));
  if (rows !== file.rows || written.some((w) => toNumber(w.rows) > most)) {
    const got = written.map((w) => toNumber(w.rows)).join(',');
    throw new StageError(`${path}: DuckDB wrote row groups of ${got} rows where ${file.groups.map((g) => g.hi - g.lo).join(',')} were planned; this DuckDB version cuts row groups differently (report it)`);
  }
  for (const [i, w] of written.entries()) {
    const bytes = toNumber(w.bytes);
    if (bytes > o.rowGroupBytes) {
      throw new StageError(
        `${path}: row group ${i} holds ${bytes} uncompressed bytes, over stages.shards.row_group_bytes (${o.rowGroupBytes}); a single sample is that large, raise the cap or lower stages.tokenize.max_seq_len`,
      );
    }
  }
}
