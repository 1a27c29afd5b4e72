import { sqlIdent } from '../core/db.js';
import { canonicalSelect } from './canonical-select.js';
import type { AdapterContext, AdapterResult } from './source-adapter.js';
import { MESSAGES_TYPE, paramPrefix } from './source-adapter.js';
import { parquetColumns, readParquetSql, requireColumns } from './read-parquet.js';
import { defineSource } from './source-definition.js';

// WildChat-1M and WildChat-4.8M share this shape; 4.8M adds per-message fields (ignored here)
// and stores the top-level timestamp without a time zone (the cast handles both).
const OPTIONAL = ['conversation_hash', 'model', 'timestamp', 'turn', 'language', 'toxic', 'redacted', 'state', 'country', 'hashed_ip'] as const;

async function wildchatAdapter(ctx: AdapterContext): Promise<AdapterResult> {
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
  const sql = canonicalSelect(
    {
      conversation_id: `$${p}source || ':' || coalesce(${col('conversation_hash', 'NULL')}, 'nohash') || ':' || ${idTail}`,
      source: `$${p}source`,
      source_type: `'wildchat'`,
      source_file: 'filename',
      source_row: 'file_row_number',
      user_key: `CASE WHEN ${col('hashed_ip', 'NULL')} IS NULL THEN NULL
           ELSE ${col('hashed_ip', 'NULL')} || '|' || coalesce(${col('country', 'NULL')}, '') END`,
      country: col('country', 'NULL'),
      language: `coalesce(${col('language', 'NULL')}, CAST($${p}language AS VARCHAR))`,
      timestamp: `CAST(${col('timestamp', 'NULL')} AS TIMESTAMP)`,
      toxic: `coalesce(${col('toxic', 'NULL')}, false)`,
      redacted: `coalesce(${col('redacted', 'NULL')}, false)`,
      split_override: `CAST($${p}split AS VARCHAR)`,
      messages: `CAST(coalesce(list_transform(conversation, m -> {'role': m.role, 'content': coalesce(m.content, '')}), []) AS ${MESSAGES_TYPE})`,
      source_meta: `to_json({'model': ${col('model', 'NULL')}, 'turn': ${col('turn', 'NULL')}, 'state': ${col('state', 'NULL')}, 'conversation_hash': ${col('conversation_hash', 'NULL')}})::VARCHAR`,
      ord: 'file_row_number',
      drop_reason: 'NULL::VARCHAR',
    },
    readParquetSql(files),
  );
  return {
    sql,
    params: { [`${p}source`]: source.name, [`${p}language`]: source.language ?? null, [`${p}split`]: source.split ?? null },
    notes: missing.length ? { missing_columns: missing } : {},
  };
}

/** WildChat-1M and WildChat-4.8M parquet (allenai/WildChat-*). */
export const wildchatSource = defineSource({
  type: 'wildchat',
  title: 'WildChat',
  options: {},
  adapter: wildchatAdapter,
  defaultLicense: 'odc-by',
  citation: `@inproceedings{zhao2024wildchat,
  title     = {WildChat: 1M ChatGPT Interaction Logs in the Wild},
  author    = {Zhao, Wenting and Ren, Xiang and Hessel, Jack and Cardie, Claire and Choi, Yejin and Deng, Yuntian},
  booktitle = {The Twelfth International Conference on Learning Representations},
  year      = {2024}
}`,
  cardProse: { userKey: 'hashed IP + country' },
});
