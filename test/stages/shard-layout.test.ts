import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString, toNumber, type Db } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { DUCKDB_VECTOR_ROWS, planShardLayout, type PlannedFile, type ShardLayoutLimits } from '../../src/stages/shards/plan-shard-layout.js';
import { uniform } from '../../src/core/seeded-random.js';
import { rowBytesSql } from '../../src/stages/shards/row-bytes-sql.js';
import { SAMPLE_COLUMNS } from '../../src/stages/shards/shards-stage.js';
import { writeShardFile } from '../../src/stages/shards/write-shard-file.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

/**
 * Samples as a max_seq_len 8192 run writes them: up to ~8k tokens of history (about 4.3 bytes
 * a token of English), lengths varying row to row, in shard order.
 */
async function longSamples(db: Db, n: number): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TEMP TABLE rows AS
     SELECT *, ${rowBytesSql(false)} AS bytes FROM (
       SELECT 'c' || i || '#001' AS sample_id, 'c' || i AS conversation_id, 'synthetic' AS source, 'train' AS split,
              'u' || (i % 97) AS user_key, NULL::VARCHAR AS country, 'English' AS language, 2 AS turn_index, 3 AS num_user_turns,
              'interaction' AS kind, 'You are a user chatting with an assistant language model to test shards.' AS intent,
              [{'role': 'system', 'content': 'intent'}, {'role': 'user', 'content': repeat('word ', 200 + (i * 7919) % 3000)},
               {'role': 'assistant', 'content': repeat('reply ', 300 + (i * 104729) % 2500)}] AS messages,
              repeat('next ', 20) AS target, 8000 AS num_tokens, 21 AS num_target_tokens, 0 AS history_messages_dropped,
              i AS rn
       FROM range(${n}) r(i))`,
  );
}

/**
 * The layout as window functions over running sums, the form it had before it became one
 * streamed pass (which used 1.5 GiB of DuckDB memory at 8M samples): the oracle the pass
 * must equal.
 */
async function windowLayout(db: Db, table: string, limits: ShardLayoutLimits): Promise<Map<string, PlannedFile[]>> {
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

async function rowGroups(db: Db, path: string): Promise<{ rows: number; bytes: number }[]> {
  const r = await db.all<{ rows: unknown; bytes: unknown }>(
    `SELECT row_group_num_rows AS rows, sum(total_uncompressed_size) AS bytes FROM parquet_metadata(${sqlString(path)})
     GROUP BY row_group_id, row_group_num_rows ORDER BY row_group_id`,
  );
  return r.map((x) => ({ rows: toNumber(x.rows), bytes: toNumber(x.bytes) }));
}

async function writeAll(db: Db, dir: string, limits: ShardLayoutLimits): Promise<string[]> {
  const files = (await planShardLayout(db, 'rows', limits)).get('train')!;
  const paths: string[] = [];
  for (const [i, f] of files.entries()) {
    const path = join(dir, `train-${i}.parquet`);
    await writeShardFile(db, path, f, { table: 'rows', split: 'train', columns: [...SAMPLE_COLUMNS], compressionLevel: 3, rowGroupBytes: limits.rowGroupBytes, hfMetadata: '{}' });
    paths.push(path);
  }
  return paths;
}

/** Long conversations of distinct words (seeded), so that no dedup step merges them. */
function longCorpus(dir: string, n: number): string {
  let x = 12345;
  const word = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 'w' + (x % 50000).toString(36);
  };
  const text = (words: number) => Array.from({ length: words }, word).join(' ');
  const rows = Array.from({ length: n }, (_, i) => ({
    messages: [0, 1, 2].flatMap((t) => [
      { role: 'user', content: text(300 + ((i * 37 + t * 101) % 900)) },
      { role: 'assistant', content: text(600 + ((i * 53 + t * 71) % 1200)) },
    ]),
  }));
  const file = join(dir, 'long.jsonl');
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

describe('shard layout by uncompressed bytes', () => {
  it('a run at max_seq_len 8192 keeps every row group under row_group_bytes (parquet_metadata)', async () => {
    const dir = tempDir();
    const file = longCorpus(dir, 24);
    const { pipeline } = writePipeline(
      dir,
      `name: long
run_dir: ${join(dir, 'runs')}
out_dir: ${join(dir, 'out')}
sources:
  - {name: c, type: generic, preset: openai, files: [${file}], language: English}
stages:
  tokenize: {max_seq_len: 8192}
  split: {fractions: {train: 1}}
  shards: {row_group_bytes: 60000, shard_bytes: 250000}
`,
    );
    await buildDataset(pipeline(), silentLogger);
    const names = readdirSync(join(dir, 'out', 'data')).sort();
    assert.ok(names.length > 1, names.join(' '));
    for (const [i, n] of names.entries()) assert.equal(n, `train-${String(i).padStart(5, '0')}-of-${String(names.length).padStart(5, '0')}.parquet`);
    await withDb(async (db) => {
      const glob = sqlString(join(dir, 'out', 'data', 'train-*.parquet'));
      const t = await db.one<{ longest: unknown }>(`SELECT max(num_tokens) AS longest FROM ${glob}`);
      assert.ok(toNumber(t.longest) > 4096 && toNumber(t.longest) <= 8192, `longest sample ${toNumber(t.longest)} tokens`);
      const groups = await db.all<{ bytes: unknown }>(`SELECT sum(total_uncompressed_size) AS bytes FROM parquet_metadata(${glob}) GROUP BY file_name, row_group_id`);
      assert.ok(groups.length > names.length);
      for (const g of groups) assert.ok(toNumber(g.bytes) <= 60000, `a row group of ${toNumber(g.bytes)} bytes`);
    });
  });

  it('keeps every row group and file of long (max_seq_len 8192) samples under the byte caps, in shard order', async () => {
    const dir = tempDir();
    await withDb(async (db) => {
      await longSamples(db, 600);
      const limits = { maxRowsPerShard: 200000, shardBytes: 4_000_000, rowGroupRows: 2048, rowGroupBytes: 1_000_000 };
      const paths = await writeAll(db, dir, limits);
      assert.ok(paths.length >= 3, `${paths.length} files`);
      let total = 0;
      for (const p of paths) {
        const groups = await rowGroups(db, p);
        assert.ok(groups.length > 1, `${p}: ${groups.length} row groups`);
        for (const g of groups) assert.ok(g.bytes <= limits.rowGroupBytes, `${p}: a row group of ${g.bytes} uncompressed bytes`);
        assert.ok(groups.reduce((a, g) => a + g.bytes, 0) <= limits.shardBytes, `${p} over the file cap`);
        total += groups.reduce((a, g) => a + g.rows, 0);
      }
      assert.equal(total, 600);
      const order = await db.all<{ bad: unknown }>(
        `SELECT count(*) FILTER (WHERE sample_id <> 'c' || (n - 1) || '#001') AS bad
         FROM (SELECT sample_id, row_number() OVER () AS n FROM read_parquet([${paths.map(sqlString).join(', ')}]))`,
      );
      assert.equal(toNumber(order[0]!.bad), 0, 'rows stay in shard order across files and groups');
      // The estimate is an upper bound of what DuckDB writes, so groups are not far under the cap either.
      const planned = await planShardLayout(db, 'rows', limits);
      for (const f of planned.get('train')!) for (const g of f.groups) assert.ok(g.bytes <= limits.rowGroupBytes);
    });
  });

  it('at the default caps (100 MB groups, 500 MB files) cuts groups at 2048 rows and stays under 100 MB', async () => {
    const dir = tempDir();
    await withDb(async (db) => {
      await longSamples(db, 2500);
      const paths = await writeAll(db, dir, { maxRowsPerShard: 200000, shardBytes: 500_000_000, rowGroupRows: 5000, rowGroupBytes: 100_000_000 });
      assert.equal(paths.length, 1);
      const groups = await rowGroups(db, paths[0]!);
      assert.deepEqual(groups.map((g) => g.rows), [2048, 452]);
      for (const g of groups) assert.ok(g.bytes <= 100_000_000);
    });
  });

  it('stops with a stage error naming the option when one sample alone passes row_group_bytes', async () => {
    const dir = tempDir();
    await withDb(async (db) => {
      await longSamples(db, 5);
      await assert.rejects(
        writeAll(db, dir, { maxRowsPerShard: 200000, shardBytes: 500_000_000, rowGroupRows: 2048, rowGroupBytes: 1000 }),
        (e: Error) => e.name === 'StageError' && /over stages\.shards\.row_group_bytes \(1000\)/.test(e.message),
      );
    });
  });

  it('equals the window-function layout on three splits of random row sizes, at caps from tight to loose', async () => {
    await withDb(async (db) => {
      const rand = uniform(7);
      const rows: string[] = [];
      for (const [split, n] of [['test', 700], ['train', 9000], ['validation', 1]] as const) {
        for (let rn = 0; rn < n; rn++) rows.push(`('${split}', ${rn}, ${1 + Math.floor(rand() ** 4 * 40000)})`);
      }
      await db.run(`CREATE OR REPLACE TEMP TABLE rows AS SELECT * FROM (VALUES ${rows.join(', ')}) v(split, rn, bytes)`);
      const caps: ShardLayoutLimits[] = [
        { maxRowsPerShard: 200000, shardBytes: 500_000_000, rowGroupRows: 100000, rowGroupBytes: 100_000_000 },
        { maxRowsPerShard: 1000, shardBytes: 2_000_000, rowGroupRows: 300, rowGroupBytes: 300_000 },
        { maxRowsPerShard: 333, shardBytes: 50_000, rowGroupRows: 7, rowGroupBytes: 45_000 },
        { maxRowsPerShard: 5000, shardBytes: 30_000_000, rowGroupRows: 5000, rowGroupBytes: 1_000_000 },
      ];
      for (const limits of caps) {
        const got = await planShardLayout(db, 'rows', limits);
        const want = await windowLayout(db, 'rows', limits);
        assert.deepEqual([...got.keys()], ['test', 'train', 'validation']);
        assert.deepEqual(got, want, JSON.stringify(limits));
      }
      // Files are not all one: the tight caps cut many.
      assert.ok((await planShardLayout(db, 'rows', caps[2]!)).get('train')!.length > 20);
    });
  });

  it('refuses a table whose scan is not in shard order', async () => {
    await withDb(async (db) => {
      await db.run(`CREATE OR REPLACE TEMP TABLE rows AS SELECT * FROM (VALUES ('train', 0, 10), ('train', 2, 10), ('train', 1, 10)) v(split, rn, bytes)`);
      const limits = { maxRowsPerShard: 200000, shardBytes: 500_000_000, rowGroupRows: 2048, rowGroupBytes: 1_000_000 };
      await assert.rejects(planShardLayout(db, 'rows', limits), /rn 2 of split train where 1 was next/);
      await db.run(`CREATE OR REPLACE TEMP TABLE rows AS SELECT * FROM (VALUES ('train', 0, 10), ('test', 0, 10), ('train', 1, 10)) v(split, rn, bytes)`);
      await assert.rejects(planShardLayout(db, 'rows', limits), /split train in more than one run/);
    });
  });

  it('writes the same bytes twice', async () => {
    const { sha256File } = await import('../../src/core/hash.js');
    const hashes: string[] = [];
    for (let k = 0; k < 2; k++) {
      const dir = tempDir();
      await withDb(async (db) => {
        await longSamples(db, 300);
        const [p] = await writeAll(db, dir, { maxRowsPerShard: 200000, shardBytes: 500_000_000, rowGroupRows: 2048, rowGroupBytes: 1_000_000 });
        hashes.push((await sha256File(p!)).sha256);
      });
    }
    assert.equal(hashes[0], hashes[1]);
  });
});
