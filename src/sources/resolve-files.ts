import { stat } from 'node:fs/promises';
import type { SourceConfig } from '../config/pipeline-config.js';
import type { Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import type { SourceFile } from './source-adapter.js';

const GLOB_CHARS = /[*?[]/;

/** Expand a source's files (globs through DuckDB's glob()), sorted, each required to exist. */
export async function resolveSourceFiles(db: Db, source: SourceConfig, index: number): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const seen = new Set<string>();
  for (const [j, pattern] of source.files.entries()) {
    let paths: string[];
    if (GLOB_CHARS.test(pattern)) {
      const rows = await db.all<{ file: string }>('SELECT file FROM glob($p) ORDER BY file', { p: pattern });
      paths = rows.map((r) => r.file);
      if (paths.length === 0) {
        throw new SourceError(
          `sources[${index}].files[${j}] (${source.name}): no file matches "${pattern}"` +
            (source.hub ? `; run \`userlm-data pull\` to download ${source.hub.repo}@${source.hub.revision}, or fix the pattern` : '; fix the pattern or create the files'),
        );
      }
    } else paths = [pattern];
    for (const p of paths) {
      if (seen.has(p)) continue;
      seen.add(p);
      let st;
      try {
        st = await stat(p);
      } catch {
        throw new SourceError(
          `sources[${index}].files[${j}] (${source.name}): file not found: ${p}` +
            (source.hub ? `; run \`userlm-data pull\` to download it from ${source.hub.repo}, or fix the path` : '; fix the path in the pipeline file or create the file'),
        );
      }
      if (!st.isFile()) throw new SourceError(`sources[${index}].files[${j}] (${source.name}): not a file: ${p}`);
      out.push({ path: p, bytes: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
    }
  }
  return out;
}
