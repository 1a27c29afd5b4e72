import { join } from 'node:path';
import { sqlString } from '../../core/db.js';
import { DATA_FILE, NUM_SAMPLES_COLUMN, STAGE_PARQUET, defineStage } from '../../core/stage.js';

// K user turns -> K+1 samples (see flip-conversation.ts for the rule). Samples are a pure
// function of a conversation, its intent and its per-sample token counts, so no stage
// stores them: flip says how many each conversation gives, and the shards stage expands
// them with sampleFieldsSql while it writes the output files. The filter stage has
// guaranteed strict user/assistant alternation, so user turn t sits at position 2t-1.

/** sample_id of turn t of a conversation (both SQL expressions). */
export function sampleIdSql(conversationId: string, t: string): string {
  // lpad cuts to its width: turn 1000 would get turn 100's id. Past 999 the number is
  // written whole, so ids up to 999 keep the form they always had.
  return `(${conversationId} || '#' || CASE WHEN ${t} < 1000 THEN lpad(${t}::VARCHAR, 3, '0') ELSE ${t}::VARCHAR END)`;
}

/**
 * Where a sample's split and token counts come from when they are not the conversation row's
 * per-turn lists (the shards stage carries them per sample): SQL expressions.
 */
export interface PerSampleSql {
  split: string;
  numTokens: string;
  numTargetTokens: string;
  dropped: string;
}

/**
 * The columns of sample t of conversation row c: c has the conversation's columns (intent,
 * messages, ...) and history_messages_dropped, the list of oldest history messages each
 * sample leaves out (tokenize's max_seq_len policy), indexed by turn. $end_token is bound.
 */
export function sampleFieldsSql(c: string, t: string, per?: PerSampleSql): string {
  const k = `(len(${c}.messages) // 2)`;
  const dropped = per?.dropped ?? `coalesce(${c}.history_messages_dropped[${t}], 0)`;
  return `${sampleIdSql(`${c}.conversation_id`, t)} AS sample_id,
      ${c}.conversation_id,
      ${c}.source,
      ${per?.split ?? `${c}.split`} AS split,
      ${c}.user_key,
      ${c}.country,
      ${c}.language,
      ${t}::INTEGER AS turn_index,
      ${k}::INTEGER AS num_user_turns,
      CASE WHEN ${t} = 1 THEN 'initiation' WHEN ${t} <= ${k} THEN 'interaction' ELSE 'termination' END AS kind,
      ${c}.intent,
      list_prepend({'role': 'system', 'content': ${c}.intent}, ${c}.messages[1 + ${dropped} : 2 * (${t} - 1)]) AS messages,
      CASE WHEN ${t} <= ${k} THEN ${c}.messages[2 * ${t} - 1].content ELSE $end_token END AS target,
      ${per?.numTokens ?? `${c}.num_tokens[${t}]`} AS num_tokens,
      ${per?.numTargetTokens ?? `${c}.num_target_tokens[${t}]`} AS num_target_tokens,
      ${dropped}::INTEGER AS history_messages_dropped`;
}

/**
 * Every kept sample of the conversation rows in the Parquet file `input` (with the per-sample
 * lists num_tokens, num_target_tokens, history_messages_dropped and too_long, indexed by turn,
 * and split), in file order then turn order.
 */
export function expandSamplesSql(input: string): string {
  return `
    SELECT ${sampleFieldsSql('c', 'r.t')}
    FROM read_parquet(${sqlString(input)}, file_row_number = true) c, range(1, len(c.messages) // 2 + 2) r(t)
    WHERE NOT c.too_long[r.t]
    ORDER BY c.file_row_number, r.t`;
}

/** One row per conversation: its user turns and the K+1 samples it gives. */
export function flipPlanSql(input: string): string {
  return `
    SELECT conversation_id, (len(messages) // 2)::INTEGER AS num_user_turns, (len(messages) // 2 + 1)::INTEGER AS ${NUM_SAMPLES_COLUMN}
    FROM read_parquet(${sqlString(input)}, file_row_number = true)
    ORDER BY file_row_number`;
}

export interface FlipNotes {
  end_token: string;
}

export const flipStage = defineStage({
  name: 'flip',
  // 2: conversation rows with their sample counts instead of the K+1 sample rows.
  // 3: written with STAGE_PARQUET (zstd level 1).
  version: 3,
  map: { parquet: STAGE_PARQUET },
  options: (p) => p.config.stages.flip,
  async run({ db, pipeline, dir, input }) {
    await db.run(`COPY (${flipPlanSql(input!)}) TO ${sqlString(join(dir, DATA_FILE))} (${STAGE_PARQUET})`);
    const notes: FlipNotes = { end_token: pipeline.config.stages.flip.end_token };
    return { notes };
  },
});
