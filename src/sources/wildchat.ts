import { sqlIdent } from '../core/db.js';
import type { AdapterContext, AdapterResult } from './source-adapter.js';
import { MESSAGES_TYPE, paramPrefix } from './source-adapter.js';
import { parquetColumns, readParquetSql, requireColumns } from './read-parquet.js';

// WildChat-1M and WildChat-4.8M share this shape; 4.8M adds per-message fields (ignored here)
// and stores the top-level timestamp without a time zone (the cast handles both).
const OPTIONAL = ['conversation_hash', 'model', 'timestamp', 'turn', 'language', 'toxic', 'redacted', 'state', 'country', 'hashed_ip'] as const;

export async function wildchatAdapter(ctx: AdapterContext): Promise<AdapterResult> {
  const { db, source, index, files } = ctx;
  const cols = await parquetColumns(db, source, index, files);
  requireColumns(
    cols,
    { conversation: /STRUCT\(.*"?content"? VARCHAR.*\)\[\]/s },
    `sources[${index}] (${source.name}, type wildchat) in ${files.map((f) => f.path).join(', ')}`,
    'A WildChat file needs conversation: list<struct{role, content, turn_identifier}>; if this is another corpus, use type: generic with a field mapping.',
  );
  const convType = cols.get('conversation')!;
  if (!/\brole\b/.test(convType)) {
    requireColumns(new Map(), { 'conversation.role': /./ }, `sources[${index}] (${source.name})`, 'Each message needs a role.');
  }
  // Optional columns, when present, must have WildChat's types: a mistyped one would stop
  // the SQL below with an error that names no column.
  const text = /^VARCHAR$/;
  const expected: Record<(typeof OPTIONAL)[number], RegExp> = {
    conversation_hash: text, model: text, language: text, state: text, country: text, hashed_ip: text,
    timestamp: /^(TIMESTAMP|DATE)/, turn: /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)$/, toxic: /^BOOLEAN$/, redacted: /^BOOLEAN$/,
  };
  requireColumns(
    cols,
    Object.fromEntries(OPTIONAL.filter((c) => cols.has(c)).map((c) => [c, expected[c]])),
    `sources[${index}] (${source.name}, type wildchat) in ${files.map((f) => f.path).join(', ')}`,
    'These columns are optional: convert them to the expected type, or leave them out of the file; if this is another corpus, use type: generic with a field mapping.',
  );
  const missing = OPTIONAL.filter((c) => !cols.has(c));
  const col = (name: (typeof OPTIONAL)[number], fallback: string) => (cols.has(name) ? sqlIdent(name) : fallback);
  const hasTurnId = /turn_identifier/.test(convType);
  const p = paramPrefix(index);
  // conversation_hash is not unique in WildChat; the first message's turn_identifier is.
  const idTail = hasTurnId
    ? `coalesce(CAST(conversation[1].turn_identifier AS VARCHAR), 'row' || file_row_number)`
    : `'row' || file_row_number`;
  const sql = `
    SELECT
      $source || ':' || coalesce(${col('conversation_hash', 'NULL')}, 'nohash') || ':' || ${idTail} AS conversation_id,
      $source AS source,
      'wildchat' AS source_type,
      filename AS source_file,
      file_row_number AS source_row,
      CASE WHEN ${col('hashed_ip', 'NULL')} IS NULL THEN NULL
           ELSE ${col('hashed_ip', 'NULL')} || '|' || coalesce(${col('country', 'NULL')}, '') END AS user_key,
      ${col('country', 'NULL')} AS country,
      coalesce(${col('language', 'NULL')}, CAST($language AS VARCHAR)) AS language,
      CAST(${col('timestamp', 'NULL')} AS TIMESTAMP) AS timestamp,
      coalesce(${col('toxic', 'NULL')}, false) AS toxic,
      coalesce(${col('redacted', 'NULL')}, false) AS redacted,
      CAST($split AS VARCHAR) AS split_override,
      CAST(coalesce(list_transform(conversation, m -> {'role': m.role, 'content': coalesce(m.content, '')}), []) AS ${MESSAGES_TYPE}) AS messages,
      to_json({'model': ${col('model', 'NULL')}, 'turn': ${col('turn', 'NULL')}, 'state': ${col('state', 'NULL')}, 'conversation_hash': ${col('conversation_hash', 'NULL')}})::VARCHAR AS source_meta,
      file_row_number AS ord,
      NULL::VARCHAR AS drop_reason
    FROM ${readParquetSql(files)}
  `.replaceAll('$source', `$${p}source`).replaceAll('$language', `$${p}language`).replaceAll('$split', `$${p}split`);
  return {
    sql,
    params: { [`${p}source`]: source.name, [`${p}language`]: source.language ?? null, [`${p}split`]: source.split ?? null },
    notes: missing.length ? { missing_columns: missing } : {},
  };
}
