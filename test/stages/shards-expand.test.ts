import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Db, sqlString, toNumber } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { sampleFieldsSql } from '../../src/stages/flip/flip-stage.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { AGGREGATION, aggregationRange, duckdbMemoryLimitBytes } from '../../src/core/memory-budget.js';
import { sha256Hex } from '../../src/core/hash.js';
import { SAMPLE_COLUMNS } from '../../src/stages/shards/shards-stage.js';
import { samplePipelineYaml, tempDir, withDb, writePipeline } from '../helpers.js';

const END = '<|endconversation|>';

describe('shards: samples expanded once, into many files', () => {
  it('writes every sample exactly once, with its text, in seeded order across files and splits', async () => {
    const dir = tempDir();
    // 40 rows a file: every split gets several files, so each file is a part of one expansion.
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir, 'stages:\n  shards: {max_rows_per_shard: 40}\n'));
    const p = pipeline();
    await buildDataset(p, silentLogger);
    const data = join(dir, 'out', 'data');
    const names = readdirSync(data).sort();
    const run = join(dir, 'runs');
    await withDb(async (db) => {
      // The reference: the flip stage's own expansion of every conversation that reached the
      // shards, built from the stage outputs by a plain join, one statement, no partitions.
      await db.run(
        `CREATE TEMP TABLE want AS
         SELECT ${sampleFieldsSql('c', 'r.t')}
         FROM (SELECT i.*, s.split, t.num_tokens, t.num_target_tokens, t.history_messages_dropped, t.too_long
               FROM read_parquet(${sqlString(join(run, 'split', 'data.parquet'))}) s
               JOIN read_parquet(${sqlString(join(run, 'tokenize', 'data.parquet'))}) t USING (conversation_id)
               JOIN read_parquet(${sqlString(join(run, 'intents', 'data.parquet'))}) i USING (conversation_id)) c,
              range(1, len(c.messages) // 2 + 2) r(t)
         WHERE NOT c.too_long[r.t]`,
        { end_token: END },
      );
      // The message byte sizes the shards plan by come from the tokenize stage: equal to
      // what SQL measures on the text itself, message by message.
      const sizesWrong = await db.count(
        `SELECT 1 FROM read_parquet(${sqlString(join(run, 'tokenize', 'data.parquet'))}) t
         JOIN read_parquet(${sqlString(join(run, 'intents', 'data.parquet'))}) i USING (conversation_id)
         WHERE t.msg_sizes IS DISTINCT FROM list_transform(i.messages, m -> (strlen(m.role) + strlen(m.content))::INTEGER)
            OR t.content_bytes IS DISTINCT FROM list_transform(i.messages, m -> strlen(m.content)::INTEGER)`,
      );
      assert.equal(sizesWrong, 0, 'tokenize carries every message size');
      const cols = SAMPLE_COLUMNS.join(', ');
      await db.run(
        `CREATE TEMP TABLE got AS SELECT ${cols}, filename, file_row_number FROM read_parquet(${sqlString(join(data, '*.parquet'))}, filename = true, file_row_number = true)`,
      );
      const n = await db.one<{ want: unknown; got: unknown }>(`SELECT (SELECT count(*) FROM want) AS want, (SELECT count(*) FROM got) AS got`);
      assert.ok(toNumber(n.want) > 500, `${toNumber(n.want)} samples`);
      assert.equal(toNumber(n.got), toNumber(n.want));
      const missing = await db.count(`SELECT ${cols} FROM want EXCEPT ALL SELECT ${cols} FROM got`);
      const extra = await db.count(`SELECT ${cols} FROM got EXCEPT ALL SELECT ${cols} FROM want`);
      assert.equal(missing, 0, 'every sample is in the shards, field for field');
      assert.equal(extra, 0, 'and nothing else is');
      // Each split's files, in name order, hold its samples in the seeded shard order.
      const splits = await db.all<{ split: string; files: unknown; bad: unknown }>(
        `SELECT split, count(DISTINCT filename) AS files,
                count(*) FILTER (WHERE got_rank <> want_rank) AS bad
         FROM (SELECT split, filename,
                      row_number() OVER (PARTITION BY split ORDER BY filename, file_row_number) AS got_rank,
                      row_number() OVER (PARTITION BY split ORDER BY md5($seed || ':' || sample_id), sample_id) AS want_rank
               FROM got)
         GROUP BY split ORDER BY split`,
        { seed: String(p.config.seed) },
      );
      assert.deepEqual(splits.map((s) => s.split), ['test', 'test_ood', 'train', 'validation']);
      for (const s of splits) {
        assert.equal(toNumber(s.bad), 0, `${s.split}: rows out of shard order`);
        assert.equal(toNumber(s.files), names.filter((f) => f.startsWith(`${s.split}-`)).length);
      }
      assert.ok(toNumber(splits.find((s) => s.split === 'train')!.files) >= 5, names.join(' '));
      // No file is over its row cap, and a split's files are all full but the last.
      const perFile = await db.all<{ filename: string; n: unknown }>(`SELECT filename, count(*) AS n FROM got GROUP BY filename ORDER BY filename`);
      for (const f of perFile) assert.ok(toNumber(f.n) <= 40, `${f.filename}: ${toNumber(f.n)} rows`);
    });
    // The expansion lives in the stage's scratch directory, which is gone once the stage is done.
    assert.deepEqual(readdirSync(join(run, 'shards')).filter((e) => e.includes('expand')), []);
  });

  it('builds the same tokenize rows and shards when the per-conversation lists are built 7 conversations at a time', async () => {
    const build = async () => {
      const dir = tempDir();
      const { pipeline } = writePipeline(dir, samplePipelineYaml(dir, 'stages:\n  shards: {max_rows_per_shard: 40}\n'));
      await buildDataset(pipeline(), silentLogger);
      const files = [join('runs', 'tokenize', 'data.parquet'), ...readdirSync(join(dir, 'out', 'data')).sort().map((f) => join('out', 'data', f))];
      return files.map((f) => `${f} ${sha256Hex(readFileSync(join(dir, f)))}`);
    };
    const whole = await build();
    const saved = { ...AGGREGATION };
    Object.assign(AGGREGATION, { minRows: 7, bytesPerRow: 2 ** 50 });
    try {
      assert.equal(aggregationRange(2 ** 30), 7);
      assert.deepEqual(await build(), whole);
    } finally {
      Object.assign(AGGREGATION, saved);
    }
    assert.ok(whole.length > 5, whole.join('\n'));
  });

  it('reads DuckDB memory_limit in bytes, whatever unit DuckDB reports it in', async () => {
    for (const [limit, bytes] of [
      ['1GiB', 2 ** 30],
      ['1536MiB', 1536 * 2 ** 20],
      ['3.5GB', 3.5e9],
      ['750MB', 750e6],
    ] as const) {
      const db = await Db.open({ threads: 1, memoryLimit: limit });
      try {
        const got = await duckdbMemoryLimitBytes(db);
        // DuckDB prints the limit rounded to one decimal in its own unit.
        assert.ok(Math.abs(got - bytes) / bytes < 0.06, `${limit}: ${got} bytes`);
      } finally {
        db.close();
      }
    }
  });
});
