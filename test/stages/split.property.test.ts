import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sqlString, toNumber } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ResultOf } from '../../src/core/stage.js';
import type { intentsStage } from '../../src/stages/intents/intents-stage.js';
import { splitStage, userSplitSql } from '../../src/stages/split/split-stage.js';
import { propertyOptions, samplePipelineYaml, tempDir, withDb, writePipeline } from '../helpers.js';

const FRACTIONS = { train: 0.9, validation: 0.05, test: 0.05 };

/** Conversations of users that come back, travel between countries, lack a key, or belong to a fixed-split source. */
const conversations = fc.array(
  fc.record({
    user: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null, freq: 5 }),
    country: fc.option(fc.constantFrom('US', 'IN', 'DE', 'Côte d’Ivoire', "O'Land"), { nil: null, freq: 6 }),
    override: fc.option(fc.constant('test_ood'), { nil: null, freq: 8 }),
    turns: fc.integer({ min: 1, max: 3 }),
  }),
  { minLength: 1, maxLength: 120 },
);

describe('split, property-based', () => {
  it('the split stage never puts one user in two splits, whatever the mix of users and countries', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir, 'stages:\n  split:\n    check_leaks: false\n'));
    const p = pipeline();
    await withDb(async (db) => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(conversations, fc.integer({ min: 0, max: 2 ** 31 }), async (convs, seed) => {
          run++;
          const input = join(dir, `in-${run}.parquet`);
          // The tokenize stage's conversation rows, and the intents stage's conversations they point at.
          const json = join(dir, `in-${run}.json`);
          const intents = join(dir, `intents-${run}.parquet`);
          const messages = (i: number, turns: number) => Array.from({ length: turns }, (_, t) => [{ role: 'user', content: `conversation ${i} turn ${t}` }, { role: 'assistant', content: 'ok' }]).flat();
          writeFileSync(json, convs.map((c, i) => JSON.stringify({ conversation_id: `c${i}`, user_key: c.user === null ? null : `u${c.user}`, country: c.country, split_override: c.override, messages: messages(i, c.turns), num_samples: c.turns + 1, too_long: Array.from({ length: c.turns + 1 }, () => false) })).join('\n'));
          const read = `read_json(${sqlString(json)}, columns = {conversation_id: 'VARCHAR', user_key: 'VARCHAR', country: 'VARCHAR', split_override: 'VARCHAR', messages: 'STRUCT(role VARCHAR, content VARCHAR)[]', num_samples: 'INTEGER', too_long: 'BOOLEAN[]'})`;
          await db.run(`COPY (SELECT conversation_id, user_key, country, split_override, messages FROM ${read}) TO ${sqlString(intents)} (FORMAT parquet)`);
          await db.run(`COPY (SELECT conversation_id, num_samples, too_long FROM ${read}) TO ${sqlString(input)} (FORMAT parquet)`);
          const samples = convs.reduce((a, c) => a + c.turns + 1, 0);
          const out = tempDir();
          await splitStage.run({ db, pipeline: { ...p, config: { ...p.config, seed } }, dir: out, input, needs: { intents: { data: intents } as ResultOf<typeof intentsStage> }, earlier: [], scratchDir: out, log: silentLogger });
          const data = sqlString(join(out, 'data.parquet'));
          const twoSplits = await db.all(
            `SELECT coalesce(user_key, 'conversation|' || conversation_id) AS u FROM read_parquet(${data}) s JOIN read_parquet(${sqlString(intents)}) i USING (conversation_id)
             WHERE split <> 'test_ood' GROUP BY 1 HAVING count(DISTINCT split) > 1`,
          );
          assert.deepEqual(twoSplits, []);
          const n = await db.one<{ samples: unknown; convs: unknown }>(`SELECT sum(num_samples) AS samples, count(DISTINCT conversation_id) AS convs FROM read_parquet(${data})`);
          assert.equal(toNumber(n.samples), samples, 'every sample kept');
          assert.equal(toNumber(n.convs), convs.length);
          const badOverride = await db.all(`SELECT conversation_id FROM read_parquet(${data}) WHERE (conversation_id IN (${convs.flatMap((c, i) => (c.override ? [`'c${i}'`] : [])).join(', ') || "''"})) <> (split = 'test_ood')`);
          assert.deepEqual(badOverride, [], 'a fixed-split source goes wholly to its split, and nothing else does');
        }),
        propertyOptions(15),
      );
    });
  });

  it('in every country each split gets its share to within one user, so within 1 point at 100+ users', async () => {
    await withDb(async (db) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 1, max: 2500 }), { minLength: 1, maxLength: 6 }),
          fc.integer({ min: 0, max: 2 ** 31 }),
          async (perCountry, seed) => {
            const countries = perCountry.map((n, c) => `SELECT 'k${c}-' || i AS conversation_id, 'u${c}-' || (i // 2) AS user_key, 'C${c}' AS country, NULL::VARCHAR AS split_override FROM range(${n * 2}) t(i)`);
            const { sql, params } = userSplitSql({ fractions: FRACTIONS, stratify_by: 'country' }, countries.join(' UNION ALL '));
            const got = await db.all<{ stratum: string; split: string; n: unknown; total: unknown }>(
              `SELECT stratum, split, count(*) AS n, any_value(total) AS total FROM (SELECT *, count(*) OVER (PARTITION BY stratum) AS total FROM (${sql})) GROUP BY 1, 2`,
              { ...params, seed: String(seed) },
            );
            for (const [c, users] of perCountry.entries()) {
              for (const [split, frac] of Object.entries(FRACTIONS)) {
                const n = toNumber(got.find((g) => g.stratum === `C${c}` && g.split === split)?.n ?? 0);
                assert.ok(Math.abs(n - frac * users) <= 1 + 1e-9, `C${c}/${split}: ${n} of ${users} users, want ${frac * users}`);
                if (users >= 100) assert.ok(Math.abs(n / users - frac) <= 0.01, `C${c}/${split}: share ${n / users}`);
              }
            }
          },
        ),
        propertyOptions(30),
      );
    });
  });
});
