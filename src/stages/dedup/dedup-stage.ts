import { join } from 'node:path';
import type { DedupOptions } from '../../config/pipeline-config.js';
import { sqlString } from '../../core/db.js';
import { DATA_FILE, DROPS_FILE, type StageSpec } from '../../core/stage.js';

/** The text compared for exact duplicates: lowercased, whitespace collapsed and trimmed, turns joined by U+001F. */
export function exactKeySql(text: DedupOptions['exact']['text']): string {
  // DuckDB's trim() strips only spaces: collapse every kind of whitespace first, then trim.
  const norm = (x: string) => `trim(regexp_replace(lower(${x}), '[\\s\\p{Z}]+', ' ', 'g'))`;
  const turns =
    text === 'first_user_turn'
      ? `${norm("list_filter(messages, m -> m.role = 'user')[1].content")}`
      : `array_to_string(list_transform(list_filter(messages, m -> m.role = 'user'), m -> ${norm('m.content')}), chr(31))`;
  return `md5(${turns})`;
}

/**
 * Exact duplicates of the user side: among conversations with the same key, the earliest
 * (timestamp, then conversation_id) stays and the others are dropped with its id recorded.
 */
export const dedupStage: StageSpec = {
  name: 'dedup',
  version: 2,
  options: (p) => p.config.stages.dedup,
  async run({ db, pipeline, dir, input }) {
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
    await db.run(
      `COPY (SELECT * EXCLUDE (_ord, _key, keeper, rank_in_group) FROM deduped WHERE rank_in_group = 1 ORDER BY _ord)
       TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run(
      `COPY (SELECT conversation_id, 'exact_duplicate' AS reason, keeper AS duplicate_of
             FROM deduped WHERE rank_in_group > 1 ORDER BY _ord)
       TO ${sqlString(join(dir, DROPS_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run('DROP TABLE deduped');
    return {};
  },
};
