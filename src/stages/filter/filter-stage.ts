import { join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import type { FilterOptions } from '../../config/pipeline-config.js';
import { sqlString } from '../../core/db.js';
import { copyKeptRows } from '../../core/copy-kept-rows.js';
import { DATA_FILE, DROPS_FILE, STAGE_PARQUET, defineStage } from '../../core/stage.js';
import { USER_TURN_COUNT_SQL } from '../conversation-sql.js';
import { controlTokenPattern, controlTokens } from './control-tokens.js';
import { languageAliases } from './language-aliases.js';

/**
 * Drop reasons in the order they are tested; a conversation gets the first that applies,
 * so every drop has exactly one reason.
 */
export const FILTER_REASONS = [
  'empty_conversation',
  'unknown_role',
  'starts_with_assistant',
  'ends_with_user',
  'consecutive_roles',
  'language_unknown',
  'language',
  'toxic',
  'redacted',
  'empty_user_turn',
  'turn_too_long',
  'too_few_user_turns',
  'too_many_user_turns',
  'control_tokens',
] as const;

// Whitespace as a person sees it: ASCII space, Unicode separators, zero-width and BOM.
const BLANK = `'[\\s\\p{Z}\\x{200B}\\x{200C}\\x{200D}\\x{2060}\\x{FEFF}]*'`;

export function filterReasonSql(o: FilterOptions): string {
  const userTurns = USER_TURN_COUNT_SQL;
  const cases: [string, string][] = [
    ['empty_conversation', 'messages IS NULL OR len(messages) = 0'],
    // Together the four role reasons admit exactly user, assistant, user, ..., assistant; each
    // names what to fix (sources[].trim and sources[].consecutive_roles repair the last three).
    ['unknown_role', `NOT list_bool_and(list_transform(messages, m -> coalesce(m.role IN ('user', 'assistant'), false)))`],
    ['starts_with_assistant', `messages[1].role = 'assistant'`],
    ['ends_with_user', `messages[-1].role = 'user'`],
    ['consecutive_roles', `list_bool_or(list_transform(messages, (m, i) -> i > 1 AND m.role = messages[i - 1].role))`],
  ];
  if (o.languages.length) {
    cases.push(['language_unknown', 'language IS NULL']);
    cases.push(['language', 'NOT list_contains($languages, lower(trim(language)))']);
  }
  if (o.drop_toxic) cases.push(['toxic', 'toxic']);
  if (o.drop_redacted) cases.push(['redacted', 'redacted']);
  cases.push(['empty_user_turn', `list_bool_or(list_transform(messages, m -> m.role = 'user' AND regexp_full_match(m.content, ${BLANK})))`]);
  cases.push(['turn_too_long', `list_max(list_transform(messages, m -> length(m.content))) > $max_chars`]);
  cases.push(['too_few_user_turns', `${userTurns} < $min_user_turns`]);
  if (o.max_user_turns !== null) cases.push(['too_many_user_turns', `${userTurns} > $max_user_turns`]);
  if (o.drop_control_tokens) cases.push(['control_tokens', `list_bool_or(list_transform(messages, m -> regexp_matches(m.content, $control_tokens)))`]);
  return `CASE ${cases.map(([r, cond]) => `WHEN ${cond} THEN '${r}'`).join(' ')} END`;
}

export const filterStage = defineStage({
  name: 'filter',
  // 2: role_order split into four reasons; languages match ISO 639 names and codes; control tokens.
  // 3: files written with STAGE_PARQUET (zstd level 1).
  // 4: predicates evaluated once (same rows; the files' row groups may differ).
  // 5: data.parquet by copyKeptRows (same rows; row groups may differ).
  version: 5,
  map: { parquet: STAGE_PARQUET },
  options: (p) => ({
      ...p.config.stages.filter,
      ...(p.config.stages.filter.drop_control_tokens ? { control_tokens: controlTokens(p.config.stages.tokenize.tokenizer_json, p.config.stages.flip.end_token) } : {}),
    }),
  async run({ db, pipeline, dir, input }) {
    const o = pipeline.config.stages.filter;
    const params = {
      ...(o.drop_control_tokens ? { control_tokens: controlTokenPattern(controlTokens(pipeline.config.stages.tokenize.tokenizer_json, pipeline.config.stages.flip.end_token)) } : {}),
      ...(o.languages.length ? { languages: listValue(languageAliases(o.languages)) } : {}),
      max_chars: o.max_chars_per_turn,
      min_user_turns: o.min_user_turns,
      ...(o.max_user_turns !== null ? { max_user_turns: o.max_user_turns } : {}),
    };
    // The predicates are evaluated once, into a narrow table in input order (row number and
    // reason, the id only where a row is dropped: no text), and data.parquet is the input's
    // rows that it keeps (copyKeptRows): the control-token and blank-turn regexes over every
    // message cost as much as the write (11 s each at 1M realistic conversations), and an
    // earlier version ran them twice (once for data, once for drops).
    const src = `read_parquet(${sqlString(input!)}, file_row_number = true)`;
    try {
      await db.run(
        `CREATE OR REPLACE TEMP TABLE filter_reasons AS
         SELECT file_row_number AS r, drop_reason, CASE WHEN drop_reason IS NOT NULL THEN conversation_id END AS conversation_id
         FROM (SELECT file_row_number, conversation_id, ${filterReasonSql(o)} AS drop_reason FROM ${src})
         ORDER BY r`,
        params,
      );
      const { keep } = await db.one<{ keep: string }>(`SELECT coalesce(string_agg(CASE WHEN drop_reason IS NULL THEN '1' ELSE '0' END, '' ORDER BY r), '') AS keep FROM filter_reasons`);
      await copyKeptRows(db, input!, keep, join(dir, DATA_FILE));
      await db.run(
        `COPY (SELECT conversation_id, drop_reason AS reason FROM filter_reasons WHERE drop_reason IS NOT NULL ORDER BY r)
         TO ${sqlString(join(dir, DROPS_FILE))} (${STAGE_PARQUET})`,
      );
    } finally {
      await db.run('DROP TABLE IF EXISTS filter_reasons');
    }
    return { notes: {} };
  },
});
