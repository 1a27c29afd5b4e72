import { CANONICAL_COLUMNS, CANONICAL_TYPES, type CanonicalColumn } from './source-adapter.js';

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
