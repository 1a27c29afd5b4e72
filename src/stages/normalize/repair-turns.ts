import { CANONICAL_COLUMNS } from '../../sources/source-adapter.js';

export interface RepairOptions {
  leading_assistant: boolean;
  trailing_user: boolean;
  merge_consecutive: boolean;
}

/** The repairs a normalized row can get, as counted in the normalize notes. */
export const REPAIRS = ['merged_consecutive', 'trimmed_leading_assistant', 'trimmed_trailing_user'] as const;
export type Repair = (typeof REPAIRS)[number];

/**
 * A SELECT over an adapter's rows with the source's repairs applied to `messages`, plus one
 * boolean column per repair saying whether it changed the row. Order: merge runs of one role,
 * then cut assistant turns before the first user turn, then user turns after the last reply.
 */
export function repairSelect(adapterSql: string, o: RepairOptions): string {
  const rest = [...CANONICAL_COLUMNS.filter((c) => c !== 'messages'), 'ord', 'drop_reason'].join(', ');
  let sql = `SELECT ${rest}, messages, false AS merged_consecutive FROM (${adapterSql})`;
  if (o.merge_consecutive) {
    sql = `SELECT ${rest},
        CASE WHEN len(_starts) < len(messages)
          THEN list_transform(_starts, (s, k) -> {'role': messages[s].role,
                 'content': array_to_string(list_transform(messages[s : coalesce(_starts[k + 1] - 1, len(messages))], x -> x.content), chr(10) || chr(10))})
          ELSE messages END AS messages,
        coalesce(len(_starts) < len(messages), false) AS merged_consecutive
      FROM (SELECT *, list_filter(range(1, len(messages) + 1), i -> i = 1 OR messages[i].role IS DISTINCT FROM messages[i - 1].role) AS _starts
            FROM (${adapterSql}))`;
  }
  const lead = `coalesce(list_position(list_transform(messages, m -> m.role IS DISTINCT FROM 'assistant'), true), len(messages) + 1)`;
  sql = o.leading_assistant
    ? `SELECT * EXCLUDE (messages), CASE WHEN ${lead} > 1 THEN messages[${lead}:] ELSE messages END AS messages,
         coalesce(${lead} > 1, false) AS trimmed_leading_assistant FROM (${sql})`
    : `SELECT *, false AS trimmed_leading_assistant FROM (${sql})`;
  const tail = `coalesce(list_position(list_transform(list_reverse(messages), m -> m.role IS DISTINCT FROM 'user'), true), len(messages) + 1)`;
  sql = o.trailing_user
    ? `SELECT * EXCLUDE (messages), CASE WHEN ${tail} > 1 THEN messages[:len(messages) + 1 - ${tail}] ELSE messages END AS messages,
         coalesce(${tail} > 1, false) AS trimmed_trailing_user FROM (${sql})`
    : `SELECT *, false AS trimmed_trailing_user FROM (${sql})`;
  return `SELECT ${CANONICAL_COLUMNS.join(', ')}, ord, drop_reason, ${REPAIRS.join(', ')} FROM (${sql})`;
}
