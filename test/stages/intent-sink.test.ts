import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { IntentSink } from '../../src/stages/intents/intent-sink.js';
import { tempDir, withDb } from '../helpers.js';

const IDS = ['c3', 'c1', 'c4', 'c2', 'c5'];

describe('IntentSink.writeInInputOrder', () => {
  it('pairs intents with the input rows by position, in file order, not by id order', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.parquet');
    await withDb(async (db) => {
      await db.run(`COPY (SELECT 'c' || x AS conversation_id, 'text of ' || x AS t FROM unnest([3, 1, 4, 2, 5]) u(x)) TO ${sqlString(input)} (FORMAT parquet)`);
      const sink = await IntentSink.open(db);
      for (const id of IDS) sink.intent(id, `intent of ${id}`);
      sink.close();
      await sink.writeInInputOrder(input, dir, 'template');
      const rows = await db.all<{ conversation_id: string; t: string; intent: string; intent_backend: string }>(`SELECT * FROM read_parquet(${sqlString(join(dir, 'data.parquet'))})`);
      assert.deepEqual(
        rows,
        IDS.map((id) => ({ conversation_id: id, t: `text of ${id.slice(1)}`, intent: `intent of ${id}`, intent_backend: 'template' })),
      );
    });
  });

  for (const [what, appended] of [
    ['intents appended in another order', ['c1', 'c3', 'c4', 'c2', 'c5']],
    ['one intent missing', ['c3', 'c1', 'c4', 'c2']],
    ['one intent too many', [...IDS, 'c6']],
  ] as const) {
    it(`stops the query instead of writing mismatched rows: ${what}`, async () => {
      const dir = tempDir();
      const input = join(dir, 'in.parquet');
      await withDb(async (db) => {
        await db.run(`COPY (SELECT unnest(${`[${IDS.map((i) => `'${i}'`).join(', ')}]`}) AS conversation_id) TO ${sqlString(input)} (FORMAT parquet)`);
        const sink = await IntentSink.open(db);
        for (const id of appended) sink.intent(id, `intent of ${id}`);
        sink.close();
        await assert.rejects(sink.writeInInputOrder(input, dir, 'template'), /not appended in input order/);
      });
    });
  }
});
