import { basename } from 'node:path';
import type { SourceFile } from './source-adapter.js';

/**
 * How a source's files are named inside fallback ids ("<label>#<row>"): the base name, or the
 * path as given (a Hub file's repo path) where two files share one. Ids built from the row
 * number alone collide across files, and the second file's rows became duplicate_id drops.
 */
export function fileLabels(files: SourceFile[]): string[] {
  const names = files.map((f) => basename(f.hub?.repoPath ?? f.path));
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return files.map((f, i) => (counts.get(names[i]!)! > 1 ? f.hub?.repoPath ?? f.path : names[i]!));
}
