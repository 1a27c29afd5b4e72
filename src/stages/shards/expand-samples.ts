import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString, toNumber, type Db } from '../../core/db.js';
import { aggregationRange, duckdbMemoryLimitBytes } from '../../core/memory-budget.js';
import { createTableInRanges } from '../../core/table-in-ranges.js';
import { sampleFieldsSql } from '../flip/flip-stage.js';

/** One output file of the shard layout: its split and the first shard-order row (rn) it holds. */
export interface ExpandFile {
  split: string;
  lo: number;
}

export interface ExpandOptions {
  /** Table of the planned samples: ipos, t, split, rn, num_tokens, num_target_tokens, history_messages_dropped. */
  plan: string;
  /** The intents stage's data file: the conversations with their text, in the order ipos counts. */
  intents: string;
  /** Scratch directory for the expansion (created, replaced). */
  dir: string;
  /** Every output file in order; file i is part i. */
  files: ExpandFile[];
  /** Uncompressed bytes of all planned samples (the layout's estimate), which sizes the writer's buffers. */
  totalBytes: number;
  samples: number;
  endToken: string;
}

export interface Expansion {
  /** The glob of part i's Parquet files. */
  part(i: number): string;
  /** Remove part i once its output file is written (bounds the scratch disk). */
  remove(i: number): Promise<void>;
}

/**
 * Every planned sample expanded once, with its text, into one Parquet partition per output
 * file: a single streaming pass over the intents output (zipped by position with each
 * conversation's planned samples, so no hash table holds text), scattered by DuckDB's
 * partitioned writer. Each output file is then one part, read and put in shard order alone;
 * what used to be a scan of every conversation per output file is one scan in all.
 */
export async function expandSamples(db: Db, o: ExpandOptions): Promise<Expansion> {
  await rm(o.dir, { recursive: true, force: true });
  await db.run(
    `CREATE OR REPLACE TEMP TABLE shard_files AS
     SELECT f.split, f.part::INTEGER AS part, f.lo::BIGINT AS lo
     FROM (SELECT unnest(json_transform($files, '[{"split":"VARCHAR","part":"INTEGER","lo":"BIGINT"}]'), recursive := true)) f`,
    { files: JSON.stringify(o.files.map((f, part) => ({ split: f.split, part, lo: f.lo }))) },
  );
  const n = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(o.intents)})`)).n);
  // Per intents row, in its order, the samples it gives (NULL for a conversation that gives
  // none): built a range of rows at a time (DuckDB holds list aggregates in memory) and
  // appended in order, which the POSITIONAL JOIN below relies on.
  const memory = await duckdbMemoryLimitBytes(db);
  const expandSql = (lo: number, hi: number) =>
    `SELECT r.ipos, e.samples
     FROM range(${lo}, ${hi}) r(ipos)
     LEFT JOIN (
       SELECT p.ipos, list({'t': p.t, 'rn': p.rn, 'part': f.part, 'split': p.split, 'num_tokens': p.num_tokens,
                            'num_target_tokens': p.num_target_tokens, 'dropped': p.history_messages_dropped}) AS samples
       FROM (SELECT * FROM ${o.plan} WHERE ipos >= ${lo} AND ipos < ${hi}) p ASOF JOIN shard_files f ON p.split = f.split AND p.rn >= f.lo
       GROUP BY p.ipos) e USING (ipos)
     ORDER BY r.ipos`;
  await createTableInRanges(db, 'shard_expand', n, aggregationRange(memory), expandSql);
  // DuckDB's partitioned writer buffers rows per thread and per open file; at its defaults
  // (524,288 rows a thread, 122,880-row groups) long samples would hold gigabytes. Both are
  // sized from the average sample so the buffers stay a fraction of DuckDB's memory.
  const avg = Math.max(1, o.totalBytes / Math.max(1, o.samples));
  const { threads } = await db.one<{ threads: unknown }>(`SELECT current_setting('threads')::BIGINT AS threads`);
  const flushRows = Math.max(2048, Math.floor(memory / 4 / Math.max(1, toNumber(threads)) / avg));
  const groupRows = Math.max(2048, Math.min(122_880, Math.floor(memory / 8 / Math.max(1, o.files.length) / avg)));
  const { v: before } = await db.one<{ v: string }>(`SELECT current_setting('partitioned_write_flush_threshold')::VARCHAR AS v`);
  await db.run(`SET partitioned_write_flush_threshold = ${flushRows}`);
  try {
    await db.run(
      `COPY (
         SELECT c.s.part AS part, c.s.rn AS rn,
                ${sampleFieldsSql('c', 'c.s.t', { split: 'c.s.split', numTokens: 'c.s.num_tokens', numTargetTokens: 'c.s.num_target_tokens', dropped: 'c.s.dropped' })}
         FROM (SELECT i.*, unnest(x.samples) AS s
               FROM read_parquet(${sqlString(o.intents)}) i POSITIONAL JOIN shard_expand x
               WHERE x.samples IS NOT NULL) c
       ) TO ${sqlString(o.dir)} (FORMAT parquet, PARTITION_BY (part), COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE ${groupRows})`,
      { end_token: o.endToken },
    );
  } finally {
    await db.run(`SET partitioned_write_flush_threshold = ${Number(before)}`);
    await db.run('DROP TABLE shard_expand');
    await db.run('DROP TABLE shard_files');
  }
  return {
    part: (i) => join(o.dir, `part=${i}`, '*.parquet'),
    remove: (i) => rm(join(o.dir, `part=${i}`), { recursive: true, force: true }),
  };
}
