import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { withFileLock, type FileLockOptions } from './file-lock.js';

const partialName = (etag: string) => new RegExp(`^${etag}(\\.[0-9a-f]{8})?\\.incomplete$`);

/**
 * Remove the partial files of a blob: ours (<etag>.incomplete) and those of huggingface_hub
 * downloads that were killed (<etag>.<8 hex>.incomplete; Python deletes its own on any
 * failure it survives). Only with the blob's lock held, when nobody can be writing them.
 */
export async function dropPartials(blobPath: string): Promise<number> {
  const dir = dirname(blobPath);
  const mine = partialName(basename(blobPath));
  let n = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!mine.test(f)) continue;
    await rm(join(dir, f), { force: true });
    n++;
  }
  return n;
}

/**
 * For files the cache holds complete, drop the partial files of their blobs that another
 * download (often Python's, which never resumes ours) made obsolete. `files` are snapshot
 * paths; the blob is where each links to.
 */
export async function dropStalePartials(lockOf: (etag: string) => string, files: { path: string; size: number }[], o: FileLockOptions = {}): Promise<number> {
  const byDir = new Map<string, string[]>();
  let n = 0;
  for (const f of files) {
    const blob = await realpath(f.path).catch(() => null);
    if (!blob) continue;
    const dir = dirname(blob);
    if (!byDir.has(dir)) byDir.set(dir, await readdir(dir).catch(() => []));
    const etag = basename(blob);
    if (!byDir.get(dir)!.some((x) => partialName(etag).test(x))) continue;
    n += await withFileLock(
      lockOf(etag),
      async () => ((await stat(blob).then((s) => s.size).catch(() => -1)) === f.size ? dropPartials(blob) : 0),
      o,
    );
  }
  return n;
}
