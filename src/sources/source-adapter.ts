import type { DuckDBValue } from '@duckdb/node-api';
import type { Db } from '../core/db.js';
import type { CommonSourceConfig } from './common-source-options.js';

/**
 * The canonical Conversation columns every adapter's view yields, in this order, plus
 * `ord` (a stable order key within the source) and `drop_reason` (NULL when kept).
 */
export const CANONICAL_COLUMNS = [
  'conversation_id',
  'source',
  'source_type',
  'source_file',
  'source_row',
  'user_key',
  'country',
  'language',
  'timestamp',
  'toxic',
  'redacted',
  'split_override',
  'messages',
  'source_meta',
] as const;

export const MESSAGES_TYPE = 'STRUCT(role VARCHAR, content VARCHAR)[]';

/** The SQL type of each canonical column, as the adapters produce them. */
export const CANONICAL_TYPES: Record<CanonicalColumn, string> = {
  conversation_id: 'VARCHAR',
  source: 'VARCHAR',
  source_type: 'VARCHAR',
  source_file: 'VARCHAR',
  source_row: 'BIGINT',
  user_key: 'VARCHAR',
  country: 'VARCHAR',
  language: 'VARCHAR',
  timestamp: 'TIMESTAMP',
  toxic: 'BOOLEAN',
  redacted: 'BOOLEAN',
  split_override: 'VARCHAR',
  messages: MESSAGES_TYPE,
  source_meta: 'VARCHAR',
};

export interface SourceFile {
  /** As resolved from the pipeline (relative to the working directory when it was). */
  path: string;
  bytes: number;
  mtimeMs: number;
  /** Device, inode, change time and size: what the normalize fingerprint compares (see resolve-files.ts). */
  identity: string;
  /** For a Hub source: the file's path in the repo and the commit it belongs to. */
  hub?: { repoPath: string; sha: string };
}

export interface AdapterContext<S extends CommonSourceConfig = CommonSourceConfig> {
  db: Db;
  source: S;
  index: number;
  files: SourceFile[];
  /** A directory the adapter may write intermediate files into (deleted after the stage). */
  scratchDir: string;
}

export interface AdapterResult {
  /** A SELECT yielding CANONICAL_COLUMNS + ord + drop_reason (see canonicalSelect); its parameters are prefixed with p(index). */
  sql: string;
  params: Record<string, DuckDBValue>;
  /** Facts worth recording (columns a variant lacked, repaired records, ...). */
  notes: Record<string, number | string | string[]>;
}

export type CanonicalColumn = (typeof CANONICAL_COLUMNS)[number];

/** Parameter name prefix for source i, so that every source's SELECT binds in one UNION. */
export function paramPrefix(index: number): string {
  return `s${index}_`;
}
