import type { LoadedPipeline, SourceConfig } from '../config/pipeline-config.js';
import { sqlList, sqlString, toNumber, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { languageAliases } from '../stages/filter/language-aliases.js';
import { detectFormat } from './detect-format.js';
import { genericMapping } from './generic-mapping.js';
import type { SourceFile } from './source-adapter.js';

/** Where a source type keeps its language label: a top-level column / JSON path, or none. */
function labelField(source: SourceConfig): string | null {
  if (source.type === 'wildchat') return 'language';
  if (source.type === 'oasst') return 'prompt.lang';
  if (source.type === 'generic') return genericMapping(source).fields.language ?? null;
  return null;
}

/** Distinct labels (with counts, most common first) of a field over the files, by a cheap DuckDB scan; null when the format has no cheap scan. */
async function distinctLabels(db: Db, files: SourceFile[], field: string): Promise<{ label: string | null; n: number }[] | null> {
  const fmt = await detectFormat(files[0]!.path);
  let sql: string;
  if (fmt.kind === 'parquet') {
    const col = field.split('.').map((k) => `"${k.replaceAll('"', '""')}"`).join('.');
    const from = `read_parquet(${sqlList(files.map((f) => f.path))}, union_by_name = true)`;
    // A label column of another type is the adapter's to report, with the file and the fix.
    const t = await db.all<{ column_type: string }>(`DESCRIBE SELECT ${col} AS label FROM ${from}`).catch(() => null);
    if (t?.[0]?.column_type !== 'VARCHAR') return null;
    sql = `SELECT label, count(*) AS n FROM (SELECT ${col} AS label FROM ${from}) GROUP BY 1`;
  } else if (fmt.kind === 'json') {
    const path = '$.' + field.split('.').map((k) => `"${k.replaceAll('"', '\\"')}"`).join('.');
    sql = `SELECT json_extract_string(json, ${sqlString(path)}) AS label, count(*) AS n
           FROM read_json_objects(${sqlList(files.map((f) => f.path))}, format = ${sqlString(fmt.layout === 'array' ? 'array' : 'newline_delimited')},
                                  compression = ${sqlString(fmt.compression === 'none' ? 'uncompressed' : fmt.compression)}, maximum_object_size = 1073741824) GROUP BY 1`;
  } else return null;
  try {
    const rows = await db.all<{ label: string | null; n: unknown }>(`${sql} ORDER BY n DESC, label LIMIT 1001`);
    return rows.map((r) => ({ label: r.label, n: toNumber(r.n) }));
  } catch {
    // A file DuckDB cannot scan is reported, with its line, by the source's own reader.
    return null;
  }
}

/**
 * Before any stage runs: a source none of whose language labels is in stages.filter.languages
 * would lose every conversation to the filter. Stop and list the labels it has.
 */
export async function checkLanguageLabels(db: Db, pipeline: LoadedPipeline, filesOf: (source: SourceConfig, index: number) => Promise<SourceFile[]>): Promise<void> {
  const wanted = pipeline.config.stages.filter.languages;
  if (wanted.length === 0) return;
  const aliases = new Set(languageAliases(wanted));
  for (const [i, source] of pipeline.config.sources.entries()) {
    const field = labelField(source);
    let labels: { label: string | null; n: number }[] | null;
    if (field === null) labels = source.language ? [{ label: source.language, n: 1 }] : source.type === 'prism' ? [{ label: 'English', n: 1 }] : [];
    else {
      const files = await filesOf(source, i);
      if (files.length === 0) continue;
      labels = await distinctLabels(db, files, field);
      // More distinct values than languages exist: not a language field; the filter will say.
      if (labels === null || labels.length > 1000) continue;
      labels = labels.map((l) => ({ label: l.label ?? source.language ?? null, n: l.n }));
    }
    if (labels.some((l) => l.label !== null && aliases.has(l.label.trim().toLowerCase()))) continue;
    const shown = labels.length ? labels.slice(0, 20).map((l) => (l.label === null ? `(none) ${l.n}` : `${l.label} ${l.n}`)).join(', ') + (labels.length > 20 ? ', ...' : '') : '(no language field and no language: option)';
    throw new SourceError(
      `${pipeline.file}: sources[${i}] (${source.name}) has no conversation in stages.filter.languages [${wanted.join(', ')}]; its language labels: ${shown}. ` +
        'Every conversation would be dropped. Set stages.filter.languages to the labels you want (names and ISO 639 codes both match), ' +
        `or set sources[${i}].language when the corpus has no language field.`,
    );
  }
}
