import { MAX_JSON_OBJECT_BYTES } from './read-json-records.js';
import { join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import { Type } from '@sinclair/typebox';
import { oneOf, recordOf } from '../config/schema-kit.js';
import { sqlIdent, sqlList, sqlString, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { canonicalSelect } from './canonical-select.js';
import { detectFormat, type InputFormat } from './detect-format.js';
import { genericMapping, GenericFieldsSchema, PRESETS, type GenericFields } from './generic-mapping.js';
import { checkPresence, mapJsonConversation, newPresence, type JsonMapping } from './map-json-conversation.js';
import { firstLine, parquetColumns, readParquetSql } from './read-parquet.js';
import { readJsonRecords } from './read-json-records.js';
import { CANONICAL_COLUMNS, CANONICAL_TYPES, MESSAGES_TYPE, paramPrefix, type AdapterContext, type AdapterResult, type SourceFile } from './source-adapter.js';
import { defineSource, type SourceIssue, type SourceOf } from './source-definition.js';
import { fileLabels } from './file-labels.js';
import { NdjsonWriter } from './write-ndjson.js';
import { assumedLanguage } from './detect-language.js';

export type { GenericFields } from './generic-mapping.js';

const ROLE = oneOf(['user', 'assistant', 'system'] as const);

const genericOptions = {
  format: Type.Optional(
    oneOf(['parquet', 'jsonl', 'json', 'csv'] as const, {
      description:
        'generic only: force a format (json = one JSON array). Default: detected from each file\'s content (Parquet, JSON lines, a JSON array, else CSV by extension), gzip and zstd included.',
    }),
  ),
  preset: Type.Optional(oneOf(['openai', 'sharegpt', 'lmsys'] as const, { description: 'generic only: a ready field mapping.' })),
  fields: Type.Optional(GenericFieldsSchema),
  roles: Type.Optional(
    recordOf(ROLE, {
      description: 'generic only: input role name -> user | assistant | system. Unmapped roles are kept as they are and dropped by the filter (unknown_role).',
    }),
  ),
  user_pattern: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "generic only: a regular expression applied to fields.user; its first group is the user (sharegpt default: '^(.*?)(?:_\\\\d+)?$', the id before a chunk's _N).",
    }),
  ),
};

type GenericSource = SourceOf<typeof genericOptions>;

function checkGeneric(s: Partial<GenericSource>): SourceIssue[] {
  const out: SourceIssue[] = [];
  const fields = s.fields !== null && typeof s.fields === 'object' ? s.fields : undefined;
  if (!s.preset && !fields?.messages) {
    out.push({ path: [], message: 'a generic source needs preset: openai | sharegpt | lmsys, or fields.messages naming the list of messages' });
  }
  if (typeof s.user_pattern === 'string') {
    try {
      if (new RegExp(s.user_pattern).exec('')?.length === 1) out.push({ path: ['user_pattern'], message: 'needs a capture group: (...) marks the user' });
    } catch (e) {
      out.push({ path: ['user_pattern'], message: `not a regular expression: ${(e as Error).message}` });
    }
  }
  return out;
}

/** A source whose files hold no records: no rows, and a note saying so. */
function emptySource(source: GenericSource, index: number): AdapterResult {
  const p = paramPrefix(index);
  const none = Object.fromEntries(CANONICAL_COLUMNS.map((c) => [c, `NULL::${CANONICAL_TYPES[c]}`])) as Record<(typeof CANONICAL_COLUMNS)[number], string>;
  return {
    sql: canonicalSelect({ ...none, source: `$${p}source`, ord: '0::BIGINT', drop_reason: 'NULL::VARCHAR' }, '(SELECT 1)', 'false'),
    params: { [`${p}source`]: source.name },
    notes: { records: 0 },
  };
}

/** CSV as JSON lines (DuckDB's reader, every cell as text), for the same mapping as JSON. */
async function csvAsJsonl(db: Db, f: SourceFile, compression: string, out: string, where: string): Promise<string> {
  try {
    await db.run(
      `COPY (SELECT * FROM read_csv(${sqlString(f.path)}, header = true, all_varchar = true, compression = ${sqlString(compression === 'none' ? 'none' : compression)}))
       TO ${sqlString(out)} (FORMAT json)`,
    );
  } catch (e) {
    throw new SourceError(
      `${where}: cannot read ${f.path} as CSV (${firstLine(e)}). A CSV source needs a header row and one conversation per row, ` +
        'the messages column holding a JSON list of {role, content}; or set format: to the file\'s real format.',
    );
  }
  return out;
}

/**
 * JSON (lines or one array) and CSV records are mapped in TypeScript into a scratch file of
 * fixed schema, read back with explicit column types: DuckDB's type detection would turn a
 * whole file's messages into JSON text over one record of another shape, and round big ids.
 */
async function jsonInput(ctx: AdapterContext<GenericSource>, formats: InputFormat[], mapping: JsonMapping): Promise<{ from: string; records: number }> {
  const { db, source, index, files, scratchDir } = ctx;
  const where = `sources[${index}] (${source.name})`;
  const scratch = join(scratchDir, `source-${index}-generic.ndjson`);
  const labels = fileLabels(files);
  const w = new NdjsonWriter(scratch);
  let records = 0;
  try {
    for (const [j, f] of files.entries()) {
      const fmt = formats[j]!;
      let path = f.path;
      let info: Parameters<typeof readJsonRecords>[2];
      if (fmt.kind === 'csv') {
        path = await csvAsJsonl(db, f, fmt.compression, join(scratchDir, `source-${index}-csv-${j}.ndjson`), where);
        info = { compression: 'none', layout: 'lines' };
      } else if (fmt.kind === 'json') info = { compression: fmt.compression, layout: fmt.layout };
      const presence = newPresence();
      for await (const rec of readJsonRecords(path, where, info)) {
        const at = fmt.kind === 'csv' ? `${f.path}: data row ${rec.row + 1}` : `${f.path}:${rec.line}`;
        const m = mapJsonConversation(rec.value, mapping, { at, fallbackId: `${labels[j]}#${rec.row}` }, presence);
        const { system_prompt, drop, ...rest } = m;
        await w.write({ ...rest, file: f.path, row: rec.row, meta: JSON.stringify({ system_prompt }), ord: records, drop: rec.invalidUnicode ? 'invalid_unicode' : drop });
        records++;
      }
      checkPresence(presence, mapping.fields, f.path, where, index);
    }
  } finally {
    await w.close();
  }
  return {
    records,
    from: `read_json(${sqlString(scratch)}, format = 'newline_delimited', maximum_object_size = ${MAX_JSON_OBJECT_BYTES}, columns = {
      cid: 'VARCHAR', "user": 'VARCHAR', country: 'VARCHAR', language: 'VARCHAR', ts: 'VARCHAR', toxic: 'BOOLEAN', redacted: 'BOOLEAN',
      messages: '${MESSAGES_TYPE}', file: 'VARCHAR', row: 'BIGINT', meta: 'VARCHAR', ord: 'BIGINT', drop: 'VARCHAR'
    })`,
  };
}

function jsonSelect(from: string, p: string): string {
  return canonicalSelect(
    {
      conversation_id: `$${p}source || ':' || cid`,
      source: `$${p}source`,
      source_type: `'generic'`,
      source_file: 'file',
      source_row: 'row',
      user_key: `CASE WHEN "user" IS NULL THEN NULL ELSE $${p}source || '|' || "user" END`,
      country: 'country',
      language: `coalesce(language, CAST($${p}language AS VARCHAR))`,
      timestamp: 'TRY_CAST(ts AS TIMESTAMP)',
      toxic: 'toxic',
      redacted: 'redacted',
      split_override: `CAST($${p}split AS VARCHAR)`,
      messages: `coalesce(messages, [])::${MESSAGES_TYPE}`,
      source_meta: 'meta',
      ord: 'ord',
      drop_reason: 'drop',
    },
    from,
  );
}

/** The rule of parseFlag, in SQL, for a Parquet column that is not BOOLEAN. */
function flagSql(expr: string, field: string): string {
  const s = `lower(trim(CAST(${expr} AS VARCHAR)))`;
  return `CASE WHEN ${expr} IS NULL THEN false
    WHEN ${s} IN ('true', '1', 'yes', 'y', 't') THEN true
    WHEN ${s} IN ('false', '0', 'no', 'n', 'f', '') THEN false
    ELSE error('field "' || ${sqlString(field)} || '" is "' || CAST(${expr} AS VARCHAR) || '", which is not a flag (true/false, 1/0, yes/no, y/n, t/f) in ' || filename) END`;
}

/** The canonical columns of a Parquet record, from the field mapping. */
function parquetSelect(from: string, fields: GenericFields, p: string, labelsSql: string, hasUserPattern: boolean): string {
  const f = (path: string | undefined) => (path === undefined ? 'NULL' : path.split('.').map(sqlIdent).join('.'));
  const roleExpr = `m.${sqlIdent(fields.role!)}`;
  const msgs = `list_transform(${f(fields.messages)}, m -> {'role': coalesce($${p}role_to[list_position($${p}role_from, CAST(${roleExpr} AS VARCHAR))], CAST(${roleExpr} AS VARCHAR)), 'content': coalesce(CAST(m.${sqlIdent(fields.content!)} AS VARCHAR), '')})`;
  const firstNonSystem = `coalesce(list_position(list_transform(${msgs}, x -> x.role <> 'system'), true), len(${msgs}) + 1)`;
  const user = `CAST(${f(fields.user)} AS VARCHAR)`;
  const userExpr = hasUserPattern ? `coalesce(nullif(regexp_extract(${user}, $${p}user_pattern, 1), ''), ${user})` : user;
  return canonicalSelect(
    {
      conversation_id: `$${p}source || ':' || coalesce(${fields.id ? `CAST(${f(fields.id)} AS VARCHAR)` : 'NULL'}, ${labelsSql} || '#' || file_row_number)`,
      source: `$${p}source`,
      source_type: `'generic'`,
      source_file: 'filename',
      source_row: 'file_row_number',
      user_key: fields.user ? `CASE WHEN ${f(fields.user)} IS NULL THEN NULL ELSE $${p}source || '|' || ${userExpr} END` : 'NULL::VARCHAR',
      country: fields.country ? `CAST(${f(fields.country)} AS VARCHAR)` : 'NULL::VARCHAR',
      language: `coalesce(${fields.language ? `CAST(${f(fields.language)} AS VARCHAR)` : 'NULL'}, CAST($${p}language AS VARCHAR))`,
      timestamp: fields.timestamp ? `TRY_CAST(${f(fields.timestamp)} AS TIMESTAMP)` : 'NULL::TIMESTAMP',
      toxic: fields.toxic ? flagSql(f(fields.toxic), fields.toxic) : 'false',
      redacted: fields.redacted ? flagSql(f(fields.redacted), fields.redacted) : 'false',
      split_override: `CAST($${p}split AS VARCHAR)`,
      messages: `CAST(coalesce(${msgs}[${firstNonSystem}:], []) AS ${MESSAGES_TYPE})`,
      source_meta: `to_json({'system_prompt': CASE WHEN ${firstNonSystem} > 1 THEN ${msgs}[1].content END})::VARCHAR`,
      ord: 'file_row_number',
      drop_reason: 'NULL::VARCHAR',
    },
    from,
  );
}

/** Each Parquet file must have the mapped top-level columns itself: union_by_name would fill a missing one with NULLs. */
async function checkParquetFiles(db: Db, files: SourceFile[], fields: GenericFields, where: string): Promise<void> {
  const wanted = [...new Set(Object.entries(fields).filter(([k]) => k !== 'role' && k !== 'content').map(([, v]) => v!.split('.')[0]!))];
  for (const f of files) {
    const cols = new Set((await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlList([f.path])})`)).map((r) => r.column_name));
    const missing = wanted.filter((c) => !cols.has(c));
    if (missing.length && files.length > 1) {
      throw new SourceError(
        `${where}: ${f.path} has no column ${missing.map((c) => `"${c}"`).join(', ')}, which the field mapping reads (it has: ${[...cols].join(', ')}). ` +
          'Its rows would come out empty: convert the file to the others\' schema, fix the mapping, or remove the file from files.',
      );
    }
  }
}

/** Any corpus of chat logs, mapped to Conversation by the field names in the pipeline file. */
async function genericAdapter(ctx: AdapterContext<GenericSource>): Promise<AdapterResult> {
  const { db, source, index, files } = ctx;
  const where = `sources[${index}] (${source.name})`;
  const formats = await Promise.all(files.map((f) => detectFormat(f.path, source.format)));
  const kinds = new Set(formats.map((f) => (f.kind === 'parquet' ? 'parquet' : 'json or csv')));
  if (kinds.size > 1) throw new SourceError(`${where}: mixes Parquet with JSON or CSV files; split it into two sources`);
  if (files.length === 0) return emptySource(source, index);
  const { fields, roles, userPattern } = genericMapping(source);
  const p = paramPrefix(index);
  const params = {
    [`${p}source`]: source.name,
    [`${p}language`]: assumedLanguage(source),
    [`${p}split`]: source.split ?? null,
  };
  const describe = `format ${[...new Set(formats.map((f) => (f.kind === 'json' ? (f.layout === 'array' ? 'json' : 'jsonl') : f.kind) + ('compression' in f && f.compression !== 'none' ? `+${f.compression}` : '')))].join(', ')}`;
  if (formats[0]!.kind !== 'parquet') {
    const input = await jsonInput(ctx, formats, { fields, roles, userPattern: userPattern ? new RegExp(userPattern) : null });
    if (input.records === 0) return emptySource(source, index);
    return { sql: jsonSelect(input.from, p), params, notes: { format: describe } };
  }
  const cols = await parquetColumns(db, source, index, files);
  await checkParquetFiles(db, files, fields, where);
  const labels = fileLabels(files);
  const labelsSql = `$${p}file_label[list_position($${p}file_path, filename)]`;
  const sql = parquetSelect(readParquetSql(files), fields, p, labelsSql, userPattern !== null);
  const allParams = {
    ...params,
    [`${p}role_from`]: listValue(Object.keys(roles)),
    [`${p}role_to`]: listValue(Object.values(roles)),
    [`${p}file_path`]: listValue(files.map((f) => f.path)),
    [`${p}file_label`]: listValue(labels),
    ...(userPattern ? { [`${p}user_pattern`]: userPattern } : {}),
  };
  try {
    await db.run(`DESCRIBE ${sql}`, allParams);
  } catch (e) {
    const shown = Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join(', ');
    throw new SourceError(
      `${where}: the field mapping (${shown}) does not fit ${files[0]!.path}: ${firstLine(e)}. ` +
        `Top-level fields there: ${[...cols.keys()].filter((c) => c !== 'filename' && c !== 'file_row_number').join(', ') || '(none)'}. Fix sources[${index}].fields or choose another preset.`,
    );
  }
  return { sql, params: allParams, notes: { format: describe } };
}

/** Any corpus described in YAML: a preset (openai, sharegpt, lmsys) or a field mapping, no code. */
export const genericSource = defineSource({
  type: 'generic',
  title: 'generic',
  options: genericOptions,
  check: checkGeneric,
  adapter: genericAdapter,
  defaultLicense: 'other',
  citation: null,
  cardProse: {},
  userKey: (s) => (genericMapping(s).fields.user ? `the ${genericMapping(s).fields.user} field` : null),
  defaultRepairs: (s) => (s.preset ? PRESETS[s.preset].trim ?? null : null),
});
