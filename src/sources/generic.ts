import { extname, join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import { Type, type Static } from '@sinclair/typebox';
import { oneOf, recordOf } from '../config/schema-kit.js';
import { sqlIdent, sqlString, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { canonicalSelect } from './canonical-select.js';
import { firstLine, parquetColumns, readParquetSql } from './read-parquet.js';
import { scanJsonl } from './scan-jsonl.js';
import { CANONICAL_COLUMNS, CANONICAL_TYPES, MESSAGES_TYPE, paramPrefix, type AdapterContext, type AdapterResult, type SourceFile } from './source-adapter.js';
import { defineSource, type SourceIssue, type SourceOf } from './source-definition.js';
import { NdjsonWriter } from './write-ndjson.js';

const field = () => Type.Optional(Type.String({ minLength: 1 }));

const GenericFieldsSchema = Type.Object(
  {
    id: field(),
    messages: field(),
    role: field(),
    content: field(),
    user: field(),
    country: field(),
    language: field(),
    timestamp: field(),
    toxic: field(),
    redacted: field(),
  },
  { additionalProperties: false, description: 'generic only: which input field holds what. Nested fields use dots (meta.user).' },
);

export type GenericFields = Static<typeof GenericFieldsSchema>;

const ROLE = oneOf(['user', 'assistant', 'system'] as const);

const genericOptions = {
  format: Type.Optional(oneOf(['parquet', 'jsonl'] as const, { description: 'generic only; inferred from the file extension when absent.' })),
  preset: Type.Optional(oneOf(['openai', 'sharegpt'] as const, { description: 'generic only: a ready field mapping.' })),
  fields: Type.Optional(GenericFieldsSchema),
  roles: Type.Optional(
    recordOf(ROLE, {
      description: 'generic only: input role name -> user | assistant | system. Unmapped roles are kept as they are and fail the role-order filter.',
    }),
  ),
};

type GenericSource = SourceOf<typeof genericOptions>;

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

export function genericMapping(source: Pick<GenericSource, 'preset' | 'fields' | 'roles'>): { fields: GenericFields; roles: Record<string, string> } {
  const preset = source.preset ? PRESETS[source.preset] : undefined;
  const fields: GenericFields = { role: 'role', content: 'content', ...preset?.fields, ...source.fields };
  const roles: Record<string, string> = { user: 'user', assistant: 'assistant', system: 'system', ...preset?.roles, ...source.roles };
  return { fields, roles };
}

export function sourceFormat(source: Pick<GenericSource, 'format'>, path: string): 'parquet' | 'jsonl' {
  if (source.format) return source.format;
  return extname(path).toLowerCase() === '.parquet' ? 'parquet' : 'jsonl';
}

function checkGeneric(s: Partial<GenericSource>): SourceIssue[] {
  const out: SourceIssue[] = [];
  const fields = s.fields !== null && typeof s.fields === 'object' ? s.fields : undefined;
  if (!s.preset && !fields?.messages) {
    out.push({ path: [], message: 'a generic source needs preset: openai | sharegpt, or fields.messages naming the list of messages' });
  }
  const hub = s.hub !== null && typeof s.hub === 'object' ? s.hub : undefined;
  const [listed, at] = Array.isArray(s.files) ? [s.files, ['files']] : Array.isArray(hub?.files) ? [hub.files, ['hub', 'files']] : [[], []];
  if (!s.format) {
    for (const [j, f] of listed.entries()) {
      if (typeof f !== 'string') continue;
      const ext = extname(f.replace(/\.(gz|zst)$/, '')).toLowerCase();
      if (!['.parquet', '.jsonl', '.json', '.ndjson'].includes(ext)) {
        out.push({ path: [...at, j], message: `cannot tell the format from "${f}"; set format: parquet | jsonl` });
      }
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

/** Where the records are, and how the file, row and drop reason of each are spelled there. */
interface GenericInput {
  from: string;
  /** Prefix of a record's fields ('r.' for JSON lines, whose records are wrapped). */
  base: string;
  file: string;
  row: string;
  drop: string;
  /** Top-level field names, for the error message of a mapping that does not fit. */
  available: string[];
}

/**
 * JSON lines are re-emitted with each record's file and row, so that ids and order stay
 * stable, and so that a corrupt line is reported with its line number before DuckDB sees it.
 * Null when the files hold no records.
 */
async function jsonlInput(ctx: AdapterContext<GenericSource>): Promise<GenericInput | null> {
  const { db, source, index, files, scratchDir } = ctx;
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
  if (records === 0) return null;
  const read = (options: string) => `read_json(${sqlString(scratch)}, format = 'newline_delimited', maximum_object_size = 1073741824, ${options})`;
  try {
    // Types are detected once; every later read names them, because detection scans
    // every string (a 50 MB turn costs seconds per scan).
    const cols = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${read('sample_size = -1')}`);
    const r = cols.find((c) => c.column_name === 'r');
    if (!r?.column_type.startsWith('STRUCT(')) throw new Error(`records have no fields (type ${r?.column_type ?? 'none'})`);
    const from = read(`columns = {_file: 'VARCHAR', _row: 'BIGINT', _drop: 'VARCHAR', r: ${sqlString(r.column_type)}}`);
    const rows = await db.all<{ column_name: string }>(`DESCRIBE SELECT r.* FROM ${from}`);
    return { from, base: 'r.', file: '_file', row: '_row', drop: '_drop', available: rows.map((x) => x.column_name) };
  } catch (e) {
    throw new SourceError(`sources[${index}] (${source.name}): cannot read ${files.map((f) => f.path).join(', ')} as JSON lines (${firstLine(e)})`);
  }
}

async function parquetInput(db: Db, source: GenericSource, index: number, files: SourceFile[]): Promise<GenericInput> {
  const cols = await parquetColumns(db, source, index, files);
  return {
    from: readParquetSql(files),
    base: '',
    file: 'filename',
    row: 'file_row_number',
    drop: 'NULL::VARCHAR',
    available: [...cols.keys()].filter((c) => c !== 'filename' && c !== 'file_row_number'),
  };
}

/** The canonical columns of one record, from the field mapping. */
function genericSelect(input: GenericInput, fields: GenericFields, p: string): string {
  const f = (path: string | undefined) => (path === undefined ? 'NULL' : input.base + path.split('.').map(sqlIdent).join('.'));
  const roleExpr = `m.${sqlIdent(fields.role!)}`;
  const msgs = `list_transform(${f(fields.messages)}, m -> {'role': coalesce($${p}role_to[list_position($${p}role_from, CAST(${roleExpr} AS VARCHAR))], CAST(${roleExpr} AS VARCHAR)), 'content': coalesce(CAST(m.${sqlIdent(fields.content!)} AS VARCHAR), '')})`;
  // Leading system prompts are context for the assistant, not words of the user: set them aside.
  const firstNonSystem = `coalesce(list_position(list_transform(${msgs}, x -> x.role <> 'system'), true), len(${msgs}) + 1)`;
  return canonicalSelect(
    {
      conversation_id: `$${p}source || ':' || ${fields.id ? `CAST(${f(fields.id)} AS VARCHAR)` : `'row' || ${input.row}`}`,
      source: `$${p}source`,
      source_type: `'generic'`,
      source_file: input.file,
      source_row: input.row,
      user_key: fields.user ? `CASE WHEN ${f(fields.user)} IS NULL THEN NULL ELSE $${p}source || '|' || CAST(${f(fields.user)} AS VARCHAR) END` : 'NULL::VARCHAR',
      country: fields.country ? `CAST(${f(fields.country)} AS VARCHAR)` : 'NULL::VARCHAR',
      language: `coalesce(${fields.language ? `CAST(${f(fields.language)} AS VARCHAR)` : 'NULL'}, CAST($${p}language AS VARCHAR))`,
      timestamp: fields.timestamp ? `TRY_CAST(${f(fields.timestamp)} AS TIMESTAMP)` : 'NULL::TIMESTAMP',
      toxic: `coalesce(${fields.toxic ? `TRY_CAST(${f(fields.toxic)} AS BOOLEAN)` : 'NULL'}, false)`,
      redacted: `coalesce(${fields.redacted ? `TRY_CAST(${f(fields.redacted)} AS BOOLEAN)` : 'NULL'}, false)`,
      split_override: `CAST($${p}split AS VARCHAR)`,
      messages: `CAST(coalesce(${msgs}[${firstNonSystem}:], []) AS ${MESSAGES_TYPE})`,
      source_meta: `to_json({'system_prompt': CASE WHEN ${firstNonSystem} > 1 THEN ${msgs}[1].content END})::VARCHAR`,
      ord: input.row,
      drop_reason: input.drop,
    },
    input.from,
  );
}

/** Any corpus of chat logs, mapped to Conversation by the field names in the pipeline file. */
async function genericAdapter(ctx: AdapterContext<GenericSource>): Promise<AdapterResult> {
  const { db, source, index, files } = ctx;
  const formats = new Set(files.map((f) => sourceFormat(source, f.path)));
  if (formats.size > 1) {
    throw new SourceError(`sources[${index}] (${source.name}): mixes parquet and jsonl files; split it into two sources or set format`);
  }
  const format = [...formats][0]!;
  const input = format === 'jsonl' ? await jsonlInput(ctx) : await parquetInput(db, source, index, files);
  if (!input) return emptySource(source, index);
  const { fields, roles } = genericMapping(source);
  const p = paramPrefix(index);
  const sql = genericSelect(input, fields, p);
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
        `Top-level fields there: ${input.available.join(', ') || '(none)'}. Fix sources[${index}].fields or choose another preset.`,
    );
  }
  return { sql, params, notes: { format } };
}

/** Any corpus described in YAML: a preset (openai, sharegpt) or a field mapping, no code. */
export const genericSource = defineSource({
  type: 'generic',
  title: 'generic',
  options: genericOptions,
  check: checkGeneric,
  adapter: genericAdapter,
  defaultLicense: 'other',
  citation: null,
  cardProse: {},
});
