import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandSamplesSql } from '../../src/stages/flip/flip-stage.js';
import { tempDir, withDb } from '../helpers.js';
import { writeConversations } from './flip-rows.js';

describe('sample_id', () => {
  it('is unique past 999 user turns, and keeps its three-digit form below', async () => {
    const dir = tempDir();
    const messages = Array.from({ length: 1001 }, (_, i) => [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }]).flat();
    await withDb(async (db) => {
      const file = await writeConversations(db, dir, [{ conversation_id: 'c', intent: 'i', messages }]);
      const rows = await db.all<{ sample_id: string; turn_index: number }>(`SELECT sample_id, turn_index FROM (${expandSamplesSql(file)})`, { end_token: '<|endconversation|>' });
      assert.equal(rows.length, 1002);
      // lpad(t, 3) cut turns 1000, 1001 and 1002 to "100": three samples shared one id.
      assert.equal(new Set(rows.map((r) => r.sample_id)).size, 1002);
      const id = (t: number) => rows.find((r) => r.turn_index === t)!.sample_id;
      assert.deepEqual([id(1), id(100), id(999), id(1000), id(1002)], ['c#001', 'c#100', 'c#999', 'c#1000', 'c#1002']);
    });
  });
});
