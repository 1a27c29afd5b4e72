import { stat } from 'node:fs/promises';
import type { SourceConfig } from '../config/pipeline-config.js';
import type { Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { hubSourceFiles } from '../hub/hub-source-files.js';
import type { SourceFile } from './source-adapter.js';

const GLOB_CHARS = /[*?[]/;

/**
 * What a rerun compares to see a changed file: inode, change time and size. Unlike the
 * modification time, the change time cannot be set back (touch -d, cp -p, an editor that
 * keeps it), and a file replaced by another gets a new inode.
 */
async function fileIdentity(path: string): Promise<string> {
  const st = await stat(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.ctimeNs}:${st.size}`;
}

export interface ResolveContext {
  runDir: string;
  /** The Hugging Face cache, where a Hub source's files are. */
  cacheDir: string;
}

/**
 * A source's files, sorted, each required to exist: local globs through DuckDB's glob(), or a
 * Hub source's snapshot in the cache (what `pull` listed and downloaded).
 */
export async function resolveSourceFiles(db: Db, source: SourceConfig, index: number, where: ResolveContext): Promise<SourceFile[]> {
  if (source.hub && !source.files) {
    const got = await hubSourceFiles(source.name, source.hub, where);
    if (got.missing.length || got.files.length === 0) {
      throw new SourceError(
        `sources[${index}] (${source.name}): ${source.hub.repo}@${source.hub.revision.slice(0, 12)} is not (completely) in the Hugging Face cache ${where.cacheDir}` +
          (got.missing.length ? ` (missing: ${got.missing.slice(0, 5).join(', ')}${got.missing.length > 5 ? ', ...' : ''})` : '') +
          '; run `userlm-data pull` on this pipeline file, with the same HF_HUB_CACHE / HF_HOME',
      );
    }
    const out: SourceFile[] = [];
    for (const f of got.files) {
      const st = await stat(f.path);
      out.push({ path: f.path, bytes: st.size, mtimeMs: Math.trunc(st.mtimeMs), identity: await fileIdentity(f.path), hub: { repoPath: f.repoPath, sha: got.sha! } });
    }
    return out;
  }
  const out: SourceFile[] = [];
  const seen = new Set<string>();
  for (const [j, pattern] of (source.files ?? []).entries()) {
    let paths: string[];
    // A file that exists under the literal name is that file, brackets and all ("logs[1].jsonl").
    const literal = GLOB_CHARS.test(pattern) ? await stat(pattern).then((st) => st.isFile(), () => false) : false;
    if (GLOB_CHARS.test(pattern) && !literal) {
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
      out.push({ path: p, bytes: st.size, mtimeMs: Math.trunc(st.mtimeMs), identity: await fileIdentity(p) });
    }
  }
  return out;
}
