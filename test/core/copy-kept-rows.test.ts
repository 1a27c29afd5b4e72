import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { copyKeptRows } from '../../src/core/copy-kept-rows.js';
import { sqlString } from '../../src/core/db.js';
import { tempDir, withDb } from '../helpers.js';

describe('copyKeptRows', () => {
  it('copies the marked rows in file order, across row groups, with the input columns only', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.parquet');
    const out = join(dir, 'out.parquet');
    const n = 50_000;
    // Ids out of sorted order, small row groups: order must come from the file, not the ids.
    const keep = Array.from({ length: n }, (_, i) => ((i * 7919) % 13 < 9 ? '1' : '0')).join('');
    await withDb(async (db) => {
      await db.run(`COPY (SELECT 'c' || ((i * 104729) % ${n}) AS conversation_id, [i, i + 1] AS l FROM range(${n}) t(i)) TO ${sqlString(input)} (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
      await copyKeptRows(db, input, keep, out);
      const cols = await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlString(out)})`);
      assert.deepEqual(cols.map((c) => c.column_name), ['conversation_id', 'l']);
      const got = await db.all<{ id: string }>(`SELECT conversation_id AS id FROM read_parquet(${sqlString(out)})`);
      const want = [...keep].flatMap((k, i) => (k === '1' ? [`c${(i * 104729) % n}`] : []));
      assert.equal(got.length, want.length);
      assert.deepEqual(got.map((g) => g.id), want);
    });
  });

  it('writes an empty file for an empty input, and refuses a mask that does not fit the file', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.parquet');
    await withDb(async (db) => {
      await db.run(`COPY (SELECT 'x' AS conversation_id FROM range(0)) TO ${sqlString(input)} (FORMAT parquet)`);
      await copyKeptRows(db, input, '', join(dir, 'empty.parquet'));
      assert.equal(await db.count(`SELECT 1 FROM read_parquet(${sqlString(join(dir, 'empty.parquet'))})`), 0);
      await db.run(`COPY (SELECT 'x' || i AS conversation_id FROM range(3) t(i)) TO ${sqlString(input)} (FORMAT parquet)`);
      await assert.rejects(copyKeptRows(db, input, '10', join(dir, 'o.parquet')), /a mask of 2 rows for 3/);
      await assert.rejects(copyKeptRows(db, input, '1x1', join(dir, 'o.parquet')), /other than 0 and 1/);
    });
  });
});
