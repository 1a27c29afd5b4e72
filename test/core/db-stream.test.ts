import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toNumber } from '../../src/core/db.js';
import { withDb } from '../helpers.js';

describe('streaming from DuckDB while appending', () => {
  it('an appender from Db.appender() leaves an open stream whole (one on the same connection would end it)', async () => {
    await withDb(async (db) => {
      await db.run('CREATE TABLE sink (i BIGINT, k INTEGER)');
      const app = await db.appender('sink');
      const result = await db.conn.stream('SELECT range AS i FROM range(300000)');
      let streamed = 0;
      for await (const rows of result.yieldRowsJs()) {
        for (const r of rows) {
          // Several rows out per row in, as the tokenize stage appends K+1 samples per conversation.
          for (let k = 0; k < 4; k++) {
            app.appendBigInt(BigInt(r[0] as bigint));
            app.appendInteger(k);
            app.endRow();
          }
          streamed++;
        }
      }
      app.closeSync();
      assert.equal(streamed, 300000);
      assert.equal(toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM sink')).n), 1200000);
    });
  });
});
