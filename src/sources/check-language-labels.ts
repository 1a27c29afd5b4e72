import { MAX_JSON_OBJECT_BYTES } from './read-json-records.js';
import type { LoadedPipeline, SourceConfig } from '../config/pipeline-config.js';
import { sqlList, sqlString, toNumber, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { languageAliases } from '../stages/filter/language-aliases.js';
import { detectFormat } from './detect-format.js';
import { genericMapping } from './generic-mapping.js';
import { DETECT } from './detect-language.js';
import type { SourceFile } from './source-adapter.js';

/** Where a source type keeps its language label: a top-level column / JSON path, or none. */
function labelField(source: SourceConfig): string | null {
  if (source.type === 'wildchat') return 'language';
  if (source.type === 'oasst') return 'prompt.lang';
  if (source.type === 'generic') return genericMapping(source).fields.language ?? null;
  return null;
}

/**
 * Conversations per label of a field over the files (most common first), by a cheap DuckDB
 * scan; with no field, the number of records under a NULL label. Null when the format has no
 * cheap scan or the field is no text column.
 */
async function labelCounts(db: Db, files: SourceFile[], field: string | null): Promise<{ label: string | null; n: number }[] | null> {
  const fmt = await detectFormat(files[0]!.path);
  const paths = sqlList(files.map((f) => f.path));
  const compression = fmt.kind === 'parquet' || fmt.compression === 'none' ? 'uncompressed' : fmt.compression;
  let label: string;
  let from: string;
  if (fmt.kind === 'parquet') {
    from = `read_parquet(${paths}, union_by_name = true)`;
    label = field === null ? 'NULL::VARCHAR' : field.split('.').map((k) => `"${k.replaceAll('"', '""')}"`).join('.');
    // A label column of another type is the adapter's to report, with the file and the fix.
    const t = await db.all<{ column_type: string }>(`DESCRIBE SELECT ${label} AS label FROM ${from}`).catch(() => null);
    if (t?.[0]?.column_type !== 'VARCHAR') return null;
  } else if (fmt.kind === 'json') {
    from = `read_json_objects(${paths}, format = ${sqlString(fmt.layout === 'array' ? 'array' : 'newline_delimited')}, compression = ${sqlString(compression)}, maximum_object_size = ${MAX_JSON_OBJECT_BYTES})`;
    label = field === null ? 'NULL::VARCHAR' : `json_extract_string(json, ${sqlString('$.' + field.split('.').map((k) => `"${k.replaceAll('"', '\\"')}"`).join('.'))})`;
  } else {
    // CSV columns are flat: a dotted field is no column of it.
    if (field?.includes('.')) return null;
    from = `read_csv(${paths}, header = true, all_varchar = true, compression = ${sqlString(compression === 'uncompressed' ? 'none' : compression)})`;
    label = field === null ? 'NULL::VARCHAR' : `"${field.replaceAll('"', '""')}"`;
  }
  try {
    const rows = await db.all<{ label: string | null; n: unknown }>(`SELECT ${label} AS label, count(*) AS n FROM ${from} GROUP BY 1 ORDER BY n DESC, label LIMIT 1001`);
    return rows.map((r) => ({ label: r.label, n: toNumber(r.n) }));
  } catch {
    // A file DuckDB cannot scan is reported, with its line, by the source's own reader.
    return null;
  }
}

/** Labels with a missing one read as `fallback`, counts of equal labels added, most common first. */
function withFallback(labels: { label: string | null; n: number }[], fallback: string | null): { label: string | null; n: number }[] {
  const sums = new Map<string | null, number>();
  for (const l of labels) {
    const k = l.label ?? fallback;
    sums.set(k, (sums.get(k) ?? 0) + l.n);
  }
  return [...sums].map(([label, n]) => ({ label, n })).sort((a, b) => b.n - a.n || String(a.label).localeCompare(String(b.label)));
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
    // Detected labels exist only once normalize has read the texts; the filter's guards cover them.
    if (source.language === DETECT) continue;
    const field = labelField(source);
    const fallback = source.language ?? (source.type === 'prism' ? 'English' : null);
    const matches = (label: string | null) => label !== null && aliases.has(label.trim().toLowerCase());
    // Every conversation carries the assumed label: no need to read the files to know it passes.
    if (field === null && matches(fallback)) continue;
    let labels: { label: string | null; n: number }[] | null = [];
    if (field !== null || fallback !== null) {
      const files = await filesOf(source, i);
      if (files.length === 0) continue;
      labels = await labelCounts(db, files, field);
      // More distinct values than languages exist: not a language field; the filter will say.
      if (labels === null || labels.length > 1000) continue;
      labels = withFallback(labels, fallback);
    }
    if (labels.some((l) => matches(l.label))) continue;
    const shown = labels.length ? labels.slice(0, 20).map((l) => (l.label === null ? `(none) ${l.n}` : `${l.label} ${l.n}`)).join(', ') + (labels.length > 20 ? ', ...' : '') : '(no language field and no language: option)';
    throw new SourceError(
      `${pipeline.file}: sources[${i}] (${source.name}) has no conversation in stages.filter.languages [${wanted.join(', ')}]; its language labels: ${shown}. ` +
        'Every conversation would be dropped. Set stages.filter.languages to the labels you want (names and ISO 639 codes both match), ' +
        `or set sources[${i}].language when the corpus has no language field (a label, or detect to label each conversation from its user turns).`,
    );
  }
}
