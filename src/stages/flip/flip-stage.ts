import { join } from 'node:path';
import { sqlString } from '../../core/db.js';
import { DATA_FILE, defineStage } from '../../core/stage.js';

/**
 * K user turns -> K+1 samples (see flip-conversation.ts for the rule). The filter stage has
 * guaranteed strict user/assistant alternation, so user turn t sits at position 2t-1.
 */
export function flipSql(input: string): string {
  return `
    SELECT
      -- lpad cuts to its width: turn 1000 would get turn 100's id. Past 999 the number is
      -- written whole, so ids up to 999 keep the form they always had.
      c.conversation_id || '#' || CASE WHEN t < 1000 THEN lpad(t::VARCHAR, 3, '0') ELSE t::VARCHAR END AS sample_id,
      c.conversation_id,
      c.source,
      c.user_key,
      c.country,
      c.language,
      c.split_override,
      t::INTEGER AS turn_index,
      (len(c.messages) // 2)::INTEGER AS num_user_turns,
      CASE WHEN t = 1 THEN 'initiation' WHEN t <= len(c.messages) // 2 THEN 'interaction' ELSE 'termination' END AS kind,
      c.intent,
      list_prepend({'role': 'system', 'content': c.intent}, c.messages[1 : 2 * (t - 1)]) AS messages,
      CASE WHEN t <= len(c.messages) // 2 THEN c.messages[2 * t - 1].content ELSE $end_token END AS target
    FROM read_parquet(${sqlString(input)}, file_row_number = true) c,
         range(1, len(c.messages) // 2 + 2) r(t)
    ORDER BY c.file_row_number, t`;
}

export const flipStage = defineStage({
  name: 'flip',
  version: 1,
  map: {},
  options: (p) => p.config.stages.flip,
  async run({ db, pipeline, dir, input }) {
    await db.run(
      `COPY (${flipSql(input!)}) TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
      { end_token: pipeline.config.stages.flip.end_token },
    );
    return { notes: {} };
  },
});
