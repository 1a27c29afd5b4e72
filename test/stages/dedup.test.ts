import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactKeySql } from '../../src/stages/dedup/dedup-stage.js';
import { withDb } from '../helpers.js';

const conv = (...turns: string[]) => JSON.stringify(turns.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })));

describe('exact dedup key', () => {
  it('ignores case and any whitespace at the ends or between words, and assistant turns', async () => {
    await withDb(async (db) => {
      const key = (msgs: string, text: 'all_user_turns' | 'first_user_turn' = 'all_user_turns') =>
        db
          .one<{ k: string }>(`SELECT ${exactKeySql(text)} AS k FROM (SELECT from_json($j, '[{"role": "VARCHAR", "content": "VARCHAR"}]') AS messages)`, { j: msgs })
          .then((r) => r.k);
      const base = await key(conv('Write a poem', 'a', 'Shorter please', 'b'));
      assert.equal(await key(conv('  write A\tpoem \n', 'other reply', 'shorter\u00a0please  \n', 'x')), base);
      assert.notEqual(await key(conv('Write a poem', 'a', 'Longer please', 'b')), base);
      assert.notEqual(await key(conv('Write a poem', 'a')), base);
      assert.equal(await key(conv('Write a poem', 'a'), 'first_user_turn'), await key(conv('write a poem', 'b', 'more', 'c'), 'first_user_turn'));
    });
  });
});
