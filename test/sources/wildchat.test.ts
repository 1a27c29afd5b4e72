import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { REALDATA, tempDir, withDb, writePipeline } from '../helpers.js';

const REAL = join(REALDATA, 'wildchat-1m-sample50.parquet');

describe('WildChat adapter', () => {
  it('reads the WildChat-4.8M variant (extra message fields, timestamp without zone) the same way', async () => {
    const dir = tempDir();
    const v48 = join(dir, 'wildchat-4.8m.parquet');
    await withDb((db) =>
      db.run(
        `COPY (SELECT * REPLACE (
                 CAST(timestamp AS TIMESTAMP) AS timestamp,
                 list_transform(conversation, m -> struct_insert(m, created := 1700000000, openai_id := 'x', temperature := 0.7, top_p := 1.0, token_counter := 12)) AS conversation)
               FROM read_parquet(${sqlString(REAL)}))
         TO ${sqlString(v48)} (FORMAT parquet)`,
      ),
    );
    const yaml = (file: string, sub: string) =>
      `name: v\nrun_dir: ${join(dir, sub, 'runs')}\nout_dir: ${join(dir, sub, 'out')}\nsources:\n  - {name: wildchat, type: wildchat, files: [${file}]}\n`;
    const a = await buildDataset(writePipeline(dir, yaml(REAL, '1m'), 'a.yaml').pipeline(), silentLogger);
    const b = await buildDataset(writePipeline(dir, yaml(v48, '48m'), 'b.yaml').pipeline(), silentLogger);
    assert.deepEqual(
      b.markers.map((m) => [m.stage, m.conversations_out, m.samples_out, m.drops]),
      a.markers.map((m) => [m.stage, m.conversations_out, m.samples_out, m.drops]),
    );
    await withDb(async (db) => {
      const q = (sub: string) =>
        db.all(`SELECT conversation_id, user_key, timestamp, messages FROM read_parquet(${sqlString(join(dir, sub, 'runs', 'normalize', 'data.parquet'))}) ORDER BY 1`);
      assert.deepEqual(await q('48m'), await q('1m'));
    });
  });

  it('keys users by hashed_ip and country, and ids by hash and first turn', async () => {
    const dir = tempDir();
    const r = await buildDataset(
      writePipeline(dir, `name: k\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: wc, type: wildchat, files: [${REAL}]}\n`).pipeline(),
      silentLogger,
    );
    assert.equal(r.markers[0]!.conversations_out, 50);
    await withDb(async (db) => {
      const rows = await db.all<{ ok: boolean }>(
        `SELECT n.user_key = w.hashed_ip || '|' || w.country
                AND n.conversation_id = 'wc:' || w.conversation_hash || ':' || w.conversation[1].turn_identifier
                AND n.country = w.country AND n.language = w.language AS ok
         FROM read_parquet(${sqlString(join(dir, 'runs', 'normalize', 'data.parquet'))}) n
         JOIN read_parquet(${sqlString(REAL)}, file_row_number = true) w ON n.source_row = w.file_row_number`,
      );
      assert.equal(rows.length, 50);
      assert.ok(rows.every((x) => x.ok));
    });
  });
});
