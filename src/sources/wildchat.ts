import { MAX_JSON_OBJECT_BYTES } from './read-json-records.js';
import { join } from 'node:path';
import { sqlIdent, sqlString, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { detectFormat } from './detect-format.js';
import { fileLabels } from './file-labels.js';
import { readJsonRecords } from './read-json-records.js';
import { NdjsonWriter } from './write-ndjson.js';
import { listValue } from '@duckdb/node-api';
import { canonicalSelect } from './canonical-select.js';
import type { AdapterContext, AdapterResult, SourceFile } from './source-adapter.js';
import { MESSAGES_TYPE, paramPrefix } from './source-adapter.js';
import { firstLine, parquetColumns, readParquetSql, requireColumns } from './read-parquet.js';
import { defineSource } from './source-definition.js';
import { assumedLanguage } from './detect-language.js';

// WildChat-1M and WildChat-4.8M share this shape; 4.8M adds per-message fields (ignored here)
// and stores the top-level timestamp without a time zone (the cast handles both). The first
// release, allenai/WildChat, has conversation_id instead of conversation_hash and no
// hashed_ip, country, state or turn_identifier (so no user key).
const OPTIONAL = ['conversation_hash', 'conversation_id', 'model', 'timestamp', 'turn', 'language', 'toxic', 'redacted', 'state', 'country', 'hashed_ip'] as const;

const TYPED_NULL: Record<(typeof OPTIONAL)[number], string> = {
  conversation_hash: 'NULL::VARCHAR', conversation_id: 'NULL::VARCHAR', model: 'NULL::VARCHAR', timestamp: 'NULL::TIMESTAMP', turn: 'NULL::BIGINT',
  language: 'NULL::VARCHAR', toxic: 'NULL::BOOLEAN', redacted: 'NULL::BOOLEAN', state: 'NULL::VARCHAR', country: 'NULL::VARCHAR', hashed_ip: 'NULL::VARCHAR',
};

/** Which WildChat release the columns are from. */
export function wildchatVariant(cols: Map<string, string>): 'allenai/WildChat' | 'WildChat-4.8M' | 'WildChat-1M' {
  if (cols.has('conversation_id') && !cols.has('conversation_hash')) return 'allenai/WildChat';
  return /\b(openai_id|token_counter)\b/.test(cols.get('conversation') ?? '') ? 'WildChat-4.8M' : 'WildChat-1M';
}

/**
 * WildChat as JSON lines (the first release was distributed so), re-emitted with each
 * record's file and row so that the SQL below reads it as it reads Parquet.
 */
async function jsonFrom(db: Db, ctx: AdapterContext, files: SourceFile[]): Promise<{ from: string; cols: Map<string, string> }> {
  const { source, index, scratchDir } = ctx;
  const scratch = join(scratchDir, `source-${index}-wildchat.ndjson`);
  const w = new NdjsonWriter(scratch);
  try {
    for (const f of files) {
      for await (const rec of readJsonRecords(f.path, `sources[${index}] (${source.name}, type wildchat)`)) {
        await w.write({ ...(rec.value as object), filename: f.path, file_row_number: rec.row });
      }
    }
  } finally {
    await w.close();
  }
  const from = `read_json(${sqlString(scratch)}, format = 'newline_delimited', maximum_object_size = ${MAX_JSON_OBJECT_BYTES}, sample_size = -1)`;
  try {
    const rows = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${from}`);
    return { from, cols: new Map(rows.map((r) => [r.column_name, r.column_type])) };
  } catch (e) {
    throw new SourceError(`sources[${index}] (${source.name}, type wildchat): cannot read ${files.map((f) => f.path).join(', ')} as JSON (${firstLine(e)}); each record must be one WildChat conversation object.`);
  }
}

async function wildchatAdapter(ctx: AdapterContext): Promise<AdapterResult> {
  const { db, source, index, files } = ctx;
  const kinds = new Set(await Promise.all(files.map(async (f) => (await detectFormat(f.path)).kind)));
  if (kinds.size > 1 || kinds.has('csv')) {
    throw new SourceError(`sources[${index}] (${source.name}, type wildchat): WildChat files must be all Parquet or all JSON (lines or array, gzip or zstd); got ${[...kinds].join(' and ')}. Split them into two sources.`);
  }
  const json = kinds.has('json') ? await jsonFrom(db, ctx, files) : null;
  const cols = json ? json.cols : await parquetColumns(db, source, index, files);
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
    conversation_hash: text, conversation_id: text, model: text, language: text, state: text, country: text, hashed_ip: text,
    // JSON has no timestamp type: the JSON exports of WildChat write it as text ('2023-04-09 00:23:46+00:00').
    timestamp: json ? /^(TIMESTAMP|DATE|VARCHAR$)/ : /^(TIMESTAMP|DATE)/, turn: /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?)$/, toxic: /^BOOLEAN$/, redacted: /^BOOLEAN$/,
  };
  requireColumns(
    cols,
    Object.fromEntries(OPTIONAL.filter((c) => cols.has(c)).map((c) => [c, expected[c]])),
    `sources[${index}] (${source.name}, type wildchat) in ${files.map((f) => f.path).join(', ')}`,
    'These columns are optional: convert them to the expected type, or leave them out of the file; if this is another corpus, use type: generic with a field mapping.',
  );
  const variant = wildchatVariant(cols);
  const missing = OPTIONAL.filter((c) => !cols.has(c) && !(c === 'conversation_id' && variant !== 'allenai/WildChat') && !(c === 'conversation_hash' && variant === 'allenai/WildChat'));
  // A missing column is a typed NULL: an untyped one reached the split stage as a binder error.
  const col = (name: (typeof OPTIONAL)[number], fallback: string) => (cols.has(name) ? sqlIdent(name) : fallback === 'NULL' ? TYPED_NULL[name] : fallback);
  const hasTurnId = /turn_identifier/.test(convType);
  const p = paramPrefix(index);
  // conversation_hash is not unique in WildChat; the first message's turn_identifier is. The
  // row-number fallback names the file: row numbers alone repeat in every file.
  const rowId = `$${p}file_label[list_position($${p}file_path, filename)] || '#' || file_row_number`;
  const idTail = hasTurnId ? `coalesce(CAST(conversation[1].turn_identifier AS VARCHAR), ${rowId})` : rowId;
  const conversationId =
    variant === 'allenai/WildChat'
      ? `$${p}source || ':' || coalesce(CAST(conversation_id AS VARCHAR), ${rowId})`
      : `$${p}source || ':' || coalesce(${col('conversation_hash', 'NULL')}, 'nohash') || ':' || ${idTail}`;
  const sql = canonicalSelect(
    {
      conversation_id: conversationId,
      source: `$${p}source`,
      source_type: `'wildchat'`,
      source_file: 'filename',
      source_row: 'file_row_number',
      user_key: `CASE WHEN ${col('hashed_ip', 'NULL')} IS NULL THEN NULL
           ELSE ${col('hashed_ip', 'NULL')} || '|' || coalesce(${col('country', 'NULL')}, '') END`,
      country: col('country', 'NULL'),
      language: `coalesce(${col('language', 'NULL')}, CAST($${p}language AS VARCHAR))`,
      // Text is read with its offset and kept in UTC, as a TIMESTAMPTZ column is.
      // Text that is no timestamp stops the run with the file and record named (DuckDB's own
      // cast error names neither).
      timestamp:
        cols.get('timestamp') === 'VARCHAR'
          ? `CASE WHEN ${sqlIdent('timestamp')} IS NULL THEN NULL
                  WHEN TRY_CAST(${sqlIdent('timestamp')} AS TIMESTAMPTZ) IS NULL THEN error('sources[${index}] (' || $${p}source || '): ' || filename || ', record ' || (file_row_number + 1) || ': timestamp ' || to_json(${sqlIdent('timestamp')}) || ' is not a timestamp (WildChat writes e.g. "2023-04-09 00:23:46+00:00"); correct or remove that record, then rerun')
                  ELSE CAST(CAST(${sqlIdent('timestamp')} AS TIMESTAMPTZ) AS TIMESTAMP) END`
          : `CAST(${col('timestamp', 'NULL')} AS TIMESTAMP)`,
      toxic: `coalesce(${col('toxic', 'NULL')}, false)`,
      redacted: `coalesce(${col('redacted', 'NULL')}, false)`,
      split_override: `CAST($${p}split AS VARCHAR)`,
      messages: `CAST(coalesce(list_transform(conversation, m -> {'role': m.role, 'content': coalesce(m.content, '')}), []) AS ${MESSAGES_TYPE})`,
      source_meta: `to_json({'model': ${col('model', 'NULL')}, 'turn': ${col('turn', 'NULL')}, 'state': ${col('state', 'NULL')}, 'conversation_hash': ${col('conversation_hash', 'NULL')}, 'variant': $${p}variant})::VARCHAR`,
      ord: 'file_row_number',
      drop_reason: 'NULL::VARCHAR',
    },
    json ? json.from : readParquetSql(files),
  );
  return {
    sql,
    params: {
      [`${p}source`]: source.name,
      [`${p}language`]: assumedLanguage(source),
      [`${p}split`]: source.split ?? null,
      [`${p}variant`]: variant,
      [`${p}file_path`]: listValue(files.map((f) => f.path)),
      [`${p}file_label`]: listValue(fileLabels(files)),
    },
    notes: { variant, ...(missing.length ? { missing_columns: missing } : {}) },
  };
}

/** WildChat-1M, WildChat-4.8M and the first allenai/WildChat release, Parquet or JSON (variant detected from the columns). */
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
