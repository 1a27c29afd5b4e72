import type { Db } from '../core/db.js';
import { sqlList } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import type { CommonSourceConfig } from './common-source-options.js';
import type { SourceFile } from './source-adapter.js';

/** The SQL expression that reads a source's parquet files with file name and row number. */
export function readParquetSql(files: SourceFile[]): string {
  return `read_parquet(${sqlList(files.map((f) => f.path))}, filename = true, file_row_number = true, union_by_name = true)`;
}

/** Column name -> DuckDB type of the source's files; a clear error when one cannot be read. */
export async function parquetColumns(db: Db, source: CommonSourceConfig, index: number, files: SourceFile[]): Promise<Map<string, string>> {
  for (const f of files) {
    try {
      await db.run(`SELECT 1 FROM parquet_metadata(${sqlList([f.path])}) LIMIT 1`);
    } catch (e) {
      throw new SourceError(
        `sources[${index}] (${source.name}): ${f.path} is not a readable Parquet file (${firstLine(e)}); ` +
          `re-download it${source.hub ? ' with `userlm-data pull`' : ''} or remove it from the pipeline's files`,
      );
    }
  }
  const rows = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${readParquetSql(files)}`);
  return new Map(rows.map((r) => [r.column_name, r.column_type]));
}

export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.trim();
}

/** A type pattern as a person reads it: ^VARCHAR$ -> VARCHAR. */
function readableType(re: RegExp): string {
  return re.source.replace(/^\^|\$$/g, '').replace(/^\((.*)\)$/, '$1');
}

export function requireColumns(
  cols: Map<string, string>,
  required: Record<string, RegExp>,
  where: string,
  fix: string,
): void {
  const problems: string[] = [];
  for (const [name, type] of Object.entries(required)) {
    const got = cols.get(name);
    if (got === undefined) problems.push(`missing column "${name}"`);
    else if (!type.test(got)) problems.push(`column "${name}" has type ${got}, expected ${readableType(type)}`);
  }
  if (problems.length) throw new SourceError(`${where}: ${problems.join('; ')}. ${fix}`);
}
