import { extname, join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import type { GenericFields, SourceConfig } from '../config/pipeline-config.js';
import { sqlIdent, sqlString } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { firstLine, parquetColumns, readParquetSql } from './read-parquet.js';
import { scanJsonl } from './scan-jsonl.js';
import { CANONICAL_COLUMNS, CANONICAL_TYPES, MESSAGES_TYPE, paramPrefix, type AdapterContext, type AdapterResult } from './source-adapter.js';
import { NdjsonWriter } from './write-ndjson.js';

export const PRESETS: Record<'openai' | 'sharegpt', { fields: GenericFields; roles: Record<string, 'user' | 'assistant' | 'system'> }> = {
  openai: {
    fields: { messages: 'messages', role: 'role', content: 'content' },
    roles: { user: 'user', assistant: 'assistant', system: 'system', developer: 'system' },
  },
  sharegpt: {
    fields: { id: 'id', messages: 'conversations', role: 'from', content: 'value' },
    roles: { human: 'user', user: 'user', gpt: 'assistant', chatgpt: 'assistant', bard: 'assistant', bing: 'assistant', assistant: 'assistant', system: 'system' },
  },
};

export function genericMapping(source: SourceConfig): { fields: GenericFields; roles: Record<string, string> } {
  const preset = source.preset ? PRESETS[source.preset] : undefined;
  const fields: GenericFields = { role: 'role', content: 'content', ...preset?.fields, ...source.fields };
  const roles: Record<string, string> = { user: 'user', assistant: 'assistant', system: 'system', ...preset?.roles, ...source.roles };
  return { fields, roles };
}

export function sourceFormat(source: SourceConfig, path: string): 'parquet' | 'jsonl' {
  if (source.format) return source.format;
  return extname(path).toLowerCase() === '.parquet' ? 'parquet' : 'jsonl';
}

/** A source whose files hold no records: no rows, and a note saying so. */
function emptySource(source: SourceConfig, index: number): AdapterResult {
  const p = paramPrefix(index);
  return {
    sql: `SELECT ${CANONICAL_COLUMNS.map((c) => (c === 'source' ? `$${p}source AS source` : `NULL::${CANONICAL_TYPES[c]} AS ${c}`)).join(', ')}, 0::BIGINT AS ord, NULL::VARCHAR AS drop_reason WHERE false`,
    params: { [`${p}source`]: source.name },
    notes: { records: 0 },
  };
}

/** Any corpus of chat logs, mapped to Conversation by the field names in the pipeline file. */
export async function genericAdapter(ctx: AdapterContext): Promise<AdapterResult> {
  const { db, source, index, files, scratchDir } = ctx;
  const formats = new Set(files.map((f) => sourceFormat(source, f.path)));
  if (formats.size > 1) {
    throw new SourceError(`sources[${index}] (${source.name}): mixes parquet and jsonl files; split it into two sources or set format`);
  }
  const format = [...formats][0]!;
  const { fields, roles } = genericMapping(source);
  let from: string;
  let base: string;
  let fileExpr: string;
  let rowExpr: string;
  let dropExpr = 'NULL::VARCHAR';
  let available: string[];
  if (format === 'jsonl') {
    // Re-emit each record with its file and row so that ids and order stay stable, and
    // so that a corrupt line is reported with its line number before DuckDB sees it.
    const scratch = join(scratchDir, `source-${index}-generic.ndjson`);
    const w = new NdjsonWriter(scratch);
    let records = 0;
    try {
      for (const f of files) {
        for await (const rec of scanJsonl(f.path, `sources[${index}] (${source.name})`)) {
          await w.write({ _file: f.path, _row: rec.row, _drop: rec.invalidUnicode ? 'invalid_unicode' : null, r: rec.value });
          records++;
        }
      }
    } finally {
      await w.close();
    }
    if (records === 0) return emptySource(source, index);
    const read = (options: string) => `read_json(${sqlString(scratch)}, format = 'newline_delimited', maximum_object_size = 1073741824, ${options})`;
    base = 'r.';
    fileExpr = '_file';
    rowExpr = '_row';
    dropExpr = '_drop';
    try {
      // Types are detected once; every later read names them, because detection scans
      // every string (a 50 MB turn costs seconds per scan).
      const cols = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${read('sample_size = -1')}`);
      const r = cols.find((c) => c.column_name === 'r');
      if (!r?.column_type.startsWith('STRUCT(')) throw new Error(`records have no fields (type ${r?.column_type ?? 'none'})`);
      from = read(`columns = {_file: 'VARCHAR', _row: 'BIGINT', _drop: 'VARCHAR', r: ${sqlString(r.column_type)}}`);
      const rows = await db.all<{ column_name: string }>(`DESCRIBE SELECT r.* FROM ${from}`);
      available = rows.map((x) => x.column_name);
    } catch (e) {
      throw new SourceError(`sources[${index}] (${source.name}): cannot read ${files.map((f) => f.path).join(', ')} as JSON lines (${firstLine(e)})`);
    }
  } else {
    const cols = await parquetColumns(db, source, index, files);
    from = readParquetSql(files);
    base = '';
    fileExpr = 'filename';
    rowExpr = 'file_row_number';
    available = [...cols.keys()].filter((c) => c !== 'filename' && c !== 'file_row_number');
  }
  const f = (path: string | undefined) =>
    path === undefined ? 'NULL' : base + path.split('.').map(sqlIdent).join('.');
  const p = paramPrefix(index);
  const roleExpr = `m.${sqlIdent(fields.role!)}`;
  const msgs = `list_transform(${f(fields.messages)}, m -> {'role': coalesce($${p}role_to[list_position($${p}role_from, CAST(${roleExpr} AS VARCHAR))], CAST(${roleExpr} AS VARCHAR)), 'content': coalesce(CAST(m.${sqlIdent(fields.content!)} AS VARCHAR), '')})`;
  // Leading system prompts are context for the assistant, not words of the user: set them aside.
  const firstNonSystem = `coalesce(list_position(list_transform(${msgs}, x -> x.role <> 'system'), true), len(${msgs}) + 1)`;
  const sql = `
    SELECT
      $${p}source || ':' || ${fields.id ? `CAST(${f(fields.id)} AS VARCHAR)` : `'row' || ${rowExpr}`} AS conversation_id,
      $${p}source AS source,
      'generic' AS source_type,
      ${fileExpr} AS source_file,
      ${rowExpr} AS source_row,
      ${fields.user ? `CASE WHEN ${f(fields.user)} IS NULL THEN NULL ELSE $${p}source || '|' || CAST(${f(fields.user)} AS VARCHAR) END` : 'NULL::VARCHAR'} AS user_key,
      ${fields.country ? `CAST(${f(fields.country)} AS VARCHAR)` : 'NULL::VARCHAR'} AS country,
      coalesce(${fields.language ? `CAST(${f(fields.language)} AS VARCHAR)` : 'NULL'}, CAST($${p}language AS VARCHAR)) AS language,
      ${fields.timestamp ? `TRY_CAST(${f(fields.timestamp)} AS TIMESTAMP)` : 'NULL::TIMESTAMP'} AS timestamp,
      coalesce(${fields.toxic ? `TRY_CAST(${f(fields.toxic)} AS BOOLEAN)` : 'NULL'}, false) AS toxic,
      coalesce(${fields.redacted ? `TRY_CAST(${f(fields.redacted)} AS BOOLEAN)` : 'NULL'}, false) AS redacted,
      CAST($${p}split AS VARCHAR) AS split_override,
      CAST(coalesce(${msgs}[${firstNonSystem}:], []) AS ${MESSAGES_TYPE}) AS messages,
      to_json({'system_prompt': CASE WHEN ${firstNonSystem} > 1 THEN ${msgs}[1].content END})::VARCHAR AS source_meta,
      ${rowExpr} AS ord,
      ${dropExpr} AS drop_reason
    FROM ${from}`;
  const params = {
    [`${p}source`]: source.name,
    [`${p}language`]: source.language ?? null,
    [`${p}split`]: source.split ?? null,
    [`${p}role_from`]: listValue(Object.keys(roles)),
    [`${p}role_to`]: listValue(Object.values(roles)),
  };
  try {
    await db.run(`DESCRIBE ${sql}`, params);
  } catch (e) {
    const shown = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join(', ');
    throw new SourceError(
      `sources[${index}] (${source.name}): the field mapping (${shown}) does not fit ${files[0]!.path}: ${firstLine(e)}. ` +
        `Top-level fields there: ${available.join(', ') || '(none)'}. Fix sources[${index}].fields or choose another preset.`,
    );
  }
  return { sql, params, notes: { format } };
}
