import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregationRange } from '../../src/core/memory-budget.js';
import { createTableInRanges } from '../../src/core/table-in-ranges.js';
import { perConversationSql } from '../../src/stages/tokenize/tokenize-stage.js';
import { withDb } from '../helpers.js';

describe('tokenize: per-conversation rows built a range of positions at a time', () => {
  it('gives the same rows in the same order as one aggregation over all positions', async () => {
    await withDb(async (db) => {
      // Positions with gaps (conversations the input left out), some with every sample too
      // long (no row), some without messages, turns appended out of order.
      await db.run(`CREATE TABLE tok_conv AS SELECT p AS pos, 'c' || p AS conversation_id FROM range(0, 1000) t(p) WHERE p % 7 <> 3`);
      await db.run(
        `CREATE TABLE tok_samples AS
         SELECT c.pos, k::INTEGER AS turn_index, (hash(c.pos * 31 + k) % 900)::INTEGER AS num_tokens, (hash(k * 17 + c.pos) % 90)::INTEGER AS num_target_tokens,
                (c.pos % 3)::INTEGER AS history_messages_dropped, (c.pos % 11 = 0 OR (k = 2 AND c.pos % 5 = 0)) AS too_long
         FROM tok_conv c, range(1, 2 + c.pos % 4) r(k) ORDER BY hash(c.pos, k)`,
      );
      await db.run(
        `CREATE TABLE tok_msg AS SELECT c.pos, i::INTEGER AS idx, (10 + hash(c.pos, i) % 500)::INTEGER AS msg_size, (hash(i, c.pos) % 400)::INTEGER AS content_bytes
         FROM tok_conv c, range(0, c.pos % 6) r(i) WHERE c.pos % 13 <> 1 ORDER BY hash(i, c.pos)`,
      );
      const whole = await db.all(perConversationSql(0, 1000));
      await createTableInRanges(db, 'tok_out', 1000, 64, perConversationSql);
      const ranged = await db.all('SELECT * FROM tok_out');
      assert.equal(ranged.length, whole.length);
      assert.ok(whole.length > 700 && whole.length < 857, `${whole.length} rows: conversations whose samples are all too long have none`);
      assert.deepEqual(ranged, whole);
      const pos = ranged.map((r) => Number(r['pos']));
      assert.ok(pos.every((p, i) => i === 0 || p > pos[i - 1]!), 'in position order');
      const empty = whole.find((r) => Number(r['pos']) % 13 === 1)!;
      assert.deepEqual(empty['msg_sizes'], []);
    });
  });

  it('sizes a range by DuckDB memory, never below 10,000 conversations', () => {
    assert.equal(aggregationRange(2688 * 2 ** 20), 344_064);
    assert.equal(aggregationRange(2 ** 20), 10_000);
  });
});
