import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DedupOptions } from '../../config/pipeline-config.js';
import { sqlString, toNumber } from '../../core/db.js';
import { DATA_FILE, DROPS_FILE, defineStage } from '../../core/stage.js';
import { renderDedupReport } from './dedup-report.js';
import { ALL_USER_TURNS_SQL, FIRST_USER_TURN_SQL, USER_MESSAGES_SQL } from '../conversation-sql.js';
import { findNearDuplicates, NEAR_RESULT_COLUMNS, type NearDedupStats } from './near-dedup.js';

export const DEDUP_REPORT_FILE = 'dedup_report.md';

/** The text compared for exact duplicates: lowercased, whitespace collapsed and trimmed, turns joined by U+001F. */
export function exactKeySql(text: DedupOptions['exact']['text']): string {
  // DuckDB's trim() strips only spaces: collapse every kind of whitespace first, then trim.
  const norm = (x: string) => `trim(regexp_replace(lower(${x}), '[\\s\\p{Z}]+', ' ', 'g'))`;
  const turns =
    text === 'first_user_turn'
      ? `${norm(`${USER_MESSAGES_SQL}[1].content`)}`
      : `array_to_string(list_transform(${USER_MESSAGES_SQL}, m -> ${norm('m.content')}), chr(31))`;
  return `md5(${turns})`;
}

/**
 * Exact duplicates of the user side first (SQL: among equal keys the earliest by timestamp,
 * then conversation_id, stays), then templated prompts and near-duplicates over the
 * survivors (MinHash LSH, see near-dedup.ts). clusters.parquet records every survivor of
 * the exact step with its cluster; dedup_report.md shows the largest clusters.
 */
export interface DedupNotes {
  /** Near-duplicate and template statistics, when either step ran. */
  near?: NearDedupStats;
}

export const dedupStage = defineStage({
  name: 'dedup',
  version: 3,
  options: (p) => {
    const d = p.config.stages.dedup;
    // Worker count does not change the output, so it does not invalidate the stage.
    const { workers: _w, ...near } = d.near;
    return { exact: d.exact, near, templates: d.templates, seed: p.config.seed };
  },
  async run({ db, pipeline, dir, input, log }) {
    const o = pipeline.config.stages.dedup;
    const key = o.exact.enabled ? exactKeySql(o.exact.text) : 'conversation_id';
    await db.run(
      `CREATE OR REPLACE TEMP TABLE deduped AS
       SELECT *,
         first_value(conversation_id) OVER w AS keeper,
         row_number() OVER w AS rank_in_group
       FROM (SELECT * EXCLUDE (file_row_number), file_row_number AS _ord, ${key} AS _key
             FROM read_parquet(${sqlString(input!)}, file_row_number = true))
       WINDOW w AS (PARTITION BY _key ORDER BY timestamp NULLS LAST, conversation_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)`,
    );
    await db.run(`CREATE OR REPLACE TEMP VIEW dedup_input AS SELECT * EXCLUDE (_key, keeper, rank_in_group) FROM deduped WHERE rank_in_group = 1`);
    let stats: NearDedupStats | null = null;
    await db.run(`CREATE OR REPLACE TABLE near_result (${NEAR_RESULT_COLUMNS})`);
    if (o.near.enabled || o.templates.enabled) {
      stats = await findNearDuplicates(db, 'dedup_input', 'near_result', o, pipeline.config.seed, log);
    } else {
      await db.run(
        `INSERT INTO near_result
         SELECT conversation_id, false AS templated, conversation_id AS keeper_id, 1 AS cluster_size, 1.0::FLOAT AS similarity FROM dedup_input`,
      );
    }
    await db.run(
      `COPY (SELECT c.* EXCLUDE (_ord) FROM dedup_input c JOIN near_result r USING (conversation_id)
             WHERE NOT r.templated AND r.keeper_id = c.conversation_id ORDER BY c._ord)
       TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run(
      `COPY (
         SELECT conversation_id, reason, duplicate_of, similarity FROM (
           SELECT conversation_id, 'exact_duplicate' AS reason, keeper AS duplicate_of, 1.0::FLOAT AS similarity, _ord
           FROM deduped WHERE rank_in_group > 1
           UNION ALL
           SELECT r.conversation_id,
                  CASE WHEN r.templated THEN 'templated_prompt' ELSE 'near_duplicate' END,
                  CASE WHEN r.templated THEN NULL ELSE r.keeper_id END,
                  CASE WHEN r.templated THEN NULL ELSE r.similarity END,
                  c._ord
           FROM near_result r JOIN dedup_input c USING (conversation_id)
           WHERE r.templated OR r.keeper_id <> r.conversation_id)
         ORDER BY _ord)
       TO ${sqlString(join(dir, DROPS_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run(
      `COPY (SELECT r.conversation_id, r.keeper_id AS cluster_id, r.cluster_size,
                    (NOT r.templated AND r.keeper_id = r.conversation_id) AS kept, r.templated, r.similarity
             FROM near_result r JOIN dedup_input c USING (conversation_id) ORDER BY c._ord)
       TO ${sqlString(join(dir, 'clusters.parquet'))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const exactDrops = toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM deduped WHERE rank_in_group > 1')).n);
    // near_result has no messages column, so the conversation's own is unambiguous in the join.
    const textSql = o.near.text === 'first_user_turn' ? FIRST_USER_TURN_SQL : ALL_USER_TURNS_SQL;
    await writeFile(join(dir, DEDUP_REPORT_FILE), await renderDedupReport(db, { input: 'dedup_input', near: 'near_result' }, textSql, stats, exactDrops));
    await db.run('DROP VIEW dedup_input');
    await db.run('DROP TABLE near_result');
    await db.run('DROP TABLE deduped');
    const notes: DedupNotes = stats ? { near: stats } : {};
    return { notes };
  },
});
