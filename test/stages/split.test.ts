import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toNumber } from '../../src/core/db.js';
import { userSplitSql } from '../../src/stages/split/split-stage.js';
import { withDb } from '../helpers.js';

const FRACTIONS = { train: 0.9, validation: 0.05, test: 0.05 };

/** n synthetic conversations over users spread unevenly across countries. */
function samplesSql(users: number): string {
  return `SELECT 'c' || i AS conversation_id, 'u' || (i % ${users}) AS user_key,
            ['US', 'IN', 'GB', 'DE', 'BR', 'NG'][1 + ((i % ${users}) * 7 % 97) % 6] AS country, NULL::VARCHAR AS split_override
          FROM range(${users * 3}) t(i)`;
}

describe('user-disjoint split', () => {
  it('stays within 1 point of 90/5/5 in every country and never splits a user', async () => {
    await withDb(async (db) => {
      const { sql, params } = userSplitSql({ fractions: FRACTIONS, stratify_by: 'country' }, samplesSql(60000));
      await db.run(`CREATE TEMP TABLE us AS ${sql}`, { ...params, seed: '7' });
      const dupes = await db.one<{ n: unknown }>('SELECT count(*) AS n FROM (SELECT user_key FROM us GROUP BY 1 HAVING count(*) > 1)');
      assert.equal(toNumber(dupes.n), 0);
      const rows = await db.all<{ stratum: string; split: string; share: number }>(
        `SELECT stratum, split, n / sum(n) OVER (PARTITION BY stratum) AS share
         FROM (SELECT stratum, split, count(*) AS n FROM us GROUP BY stratum, split) ORDER BY stratum, split`,
      );
      assert.equal(new Set(rows.map((r) => r.stratum)).size, 6);
      for (const r of rows) {
        const want = FRACTIONS[r.split as keyof typeof FRACTIONS];
        assert.ok(Math.abs(Number(r.share) - want) < 0.01, `${r.stratum}/${r.split}: ${r.share} vs ${want}`);
      }
      await db.run('DROP TABLE us');
    });
  });

  it('is a function of the seed: same seed same split, another seed another', async () => {
    await withDb(async (db) => {
      const { sql, params } = userSplitSql({ fractions: FRACTIONS, stratify_by: 'country' }, samplesSql(2000));
      const run = async (seed: string) =>
        (await db.all<{ user_key: string; split: string }>(`SELECT user_key, split FROM (${sql}) ORDER BY user_key`, { ...params, seed }))
          .map((r) => `${r.user_key}=${r.split}`).join(',');
      assert.equal(await run('1'), await run('1'));
      assert.notEqual(await run('1'), await run('2'));
    });
  });

  it('sends a user seen in two countries to one split (stratum = first country)', async () => {
    await withDb(async (db) => {
      const { sql, params } = userSplitSql(
        { fractions: FRACTIONS, stratify_by: 'country' },
        `SELECT * FROM (VALUES ('c1', 'u1', 'US', NULL), ('c2', 'u1', 'DE', NULL), ('c3', NULL, 'DE', NULL), ('c4', 'u9', 'DE', 'test_ood'))
           t(conversation_id, user_key, country, split_override)`,
      );
      const rows = await db.all<{ user_key: string; stratum: string }>(`SELECT user_key, stratum FROM (${sql}) ORDER BY 1`, { ...params, seed: '1' });
      // A conversation without a user is its own user; an overridden source takes no part.
      assert.deepEqual(rows.map((r) => [r.user_key, r.stratum]), [['conversation|c3', 'DE'], ['u1', 'DE']]);
    });
  });
});
