import { join } from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import type { SplitOptions } from '../../config/pipeline-config.js';
import { sqlString, toNumber } from '../../core/db.js';
import { DATA_FILE, type StageSpec } from '../../core/stage.js';

/**
 * SQL assigning each user to a split. Within each stratum (country) users are ordered by a
 * seeded md5 of their key, and the i-th of n users lands in the split whose cumulative
 * share first exceeds (i + 0.5) / n: exact shares at scale, stable under the seed, and a
 * user never lands in two splits because the assignment is per user, not per row.
 */
export function userSplitSql(o: SplitOptions, samplesSql: string): { sql: string; params: Record<string, DuckDBValue> } {
  const entries = Object.entries(o.fractions);
  const params: Record<string, DuckDBValue> = {};
  let cum = 0;
  const whens = entries.map(([name, frac], i) => {
    cum += frac;
    params[`split_name_${i}`] = name;
    params[`split_cum_${i}`] = i === entries.length - 1 ? 2 : cum;
    return `WHEN pos < $split_cum_${i} THEN $split_name_${i}`;
  });
  const stratum = o.stratify_by === 'country' ? `min(coalesce(country, ''))` : `''`;
  const sql = `
    WITH users AS (
      SELECT coalesce(user_key, 'conversation|' || conversation_id) AS user_key, ${stratum} AS stratum
      FROM (${samplesSql}) WHERE split_override IS NULL
      GROUP BY 1
    ), ranked AS (
      SELECT user_key, stratum,
        (row_number() OVER (PARTITION BY stratum ORDER BY md5($seed || ':' || user_key), user_key) - 0.5)
          / count(*) OVER (PARTITION BY stratum) AS pos
      FROM users
    )
    SELECT user_key, stratum, CASE ${whens.join(' ')} END AS split FROM ranked`;
  return { sql, params };
}

export const splitStage: StageSpec = {
  name: 'split',
  version: 1,
  options: (p) => ({ ...p.config.stages.split, seed: p.config.seed }),
  async run({ db, pipeline, dir, input }) {
    const o = pipeline.config.stages.split;
    const samples = `SELECT * FROM read_parquet(${sqlString(input!)})`;
    const { sql, params } = userSplitSql(o, samples);
    await db.run(`CREATE OR REPLACE TEMP TABLE user_split AS ${sql}`, { ...params, seed: String(pipeline.config.seed) });
    await db.run(
      `COPY (SELECT * FROM user_split ORDER BY stratum, user_key) TO ${sqlString(join(dir, 'users.parquet'))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run(
      `COPY (
         SELECT s.* EXCLUDE (split_override, file_row_number),
                coalesce(s.split_override, u.split) AS split
         FROM read_parquet(${sqlString(input!)}, file_row_number = true) s
         -- One equality key, NULL for overridden rows: an extra condition in ON would make
         -- DuckDB fall back to a nested-loop join (minutes at 100k conversations).
         LEFT JOIN user_split u
           ON u.user_key = CASE WHEN s.split_override IS NULL THEN coalesce(s.user_key, 'conversation|' || s.conversation_id) END
         ORDER BY s.file_row_number)
       TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const counts = await db.all<{ split: string; conversations: unknown; samples: unknown; users: unknown }>(
      `SELECT split, count(DISTINCT conversation_id) AS conversations, count(*) AS samples,
              count(DISTINCT coalesce(user_key, 'conversation|' || conversation_id)) AS users
       FROM read_parquet(${sqlString(join(dir, DATA_FILE))}) GROUP BY split ORDER BY split`,
    );
    await db.run('DROP TABLE user_split');
    return {
      notes: {
        splits: Object.fromEntries(
          counts.map((c) => [c.split, { conversations: toNumber(c.conversations), samples: toNumber(c.samples), users: toNumber(c.users) }]),
        ),
      },
    };
  },
};
