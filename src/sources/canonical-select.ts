import { MAX_JSON_OBJECT_BYTES } from './read-json-records.js';
import { sqlString } from '../core/db.js';
import { CANONICAL_COLUMNS, CANONICAL_TYPES, MESSAGES_TYPE, type CanonicalColumn } from './source-adapter.js';

/** One SQL expression per canonical column, plus the source's order key and drop reason. */
export type CanonicalExpressions = Record<CanonicalColumn | 'ord' | 'drop_reason', string>;

/**
 * The SELECT every adapter returns: the canonical Conversation columns in their order, then
 * `ord` and `drop_reason`. Written once so that no adapter can reorder or forget a column;
 * the expressions are SQL written by the adapter (never user strings: those are parameters).
 * Every column is cast to its canonical type: a NULL that DuckDB folds to INTEGER (a source
 * without user ids) reached the split stage as a binder error.
 */
export function canonicalSelect(exprs: CanonicalExpressions, from: string, where?: string): string {
  const cols = [...CANONICAL_COLUMNS, 'ord', 'drop_reason'] as const;
  return `
    SELECT
      ${cols.map((c) => `CAST(${exprs[c]} AS ${c === 'ord' ? 'BIGINT' : c === 'drop_reason' ? 'VARCHAR' : CANONICAL_TYPES[c]}) AS ${c}`).join(',\n      ')}
    FROM ${from}${where ? `\n    WHERE ${where}` : ''}`;
}

/**
 * The SELECT over the NDJSON scratch file written by adapters that rebuild conversations in
 * JS (PRISM's linearised dialogues, OASST's trees): every row has cid, file, row, ts, messages,
 * meta, ord and drop; `columns` names the adapter's own (type by name), which its `userKey`
 * and `language` expressions may read. p: the source's parameter prefix.
 */
export function scratchSelect(o: { p: string; type: string; scratch: string; columns: Record<string, string>; userKey: string; language: string }): string {
  const { p } = o;
  const own = Object.entries(o.columns).map(([k, t]) => `${k}: '${t}', `).join('');
  return canonicalSelect(
    {
      conversation_id: `$${p}source || ':' || cid`,
      source: `$${p}source`,
      source_type: `'${o.type}'`,
      source_file: 'file',
      source_row: 'row',
      user_key: o.userKey,
      country: 'NULL::VARCHAR',
      language: o.language,
      timestamp: 'TRY_CAST(ts AS TIMESTAMP)',
      toxic: 'false',
      redacted: 'false',
      split_override: `CAST($${p}split AS VARCHAR)`,
      messages: `CAST(messages AS ${MESSAGES_TYPE})`,
      source_meta: 'meta',
      ord: 'ord',
      drop_reason: 'drop',
    },
    `read_json(${sqlString(o.scratch)}, format = 'newline_delimited', maximum_object_size = ${MAX_JSON_OBJECT_BYTES}, columns = {
      cid: 'VARCHAR', file: 'VARCHAR', row: 'BIGINT', ${own}ts: 'VARCHAR',
      messages: '${MESSAGES_TYPE}', meta: 'VARCHAR', ord: 'BIGINT', drop: 'VARCHAR'
    })`,
  );
}
