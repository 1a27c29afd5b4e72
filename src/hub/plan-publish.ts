import type { FileIdentity } from './file-identity.js';

export interface LocalFile extends FileIdentity {
  /** Path in the repo (and relative to the dataset directory). */
  path: string;
}

export interface RemoteEntry {
  size: number;
  oid?: string;
  lfs?: { oid: string };
}

export interface PublishPlan {
  /** Commits to make, in order; each at most maxFilesPerCommit files. */
  batches: LocalFile[][];
  /** Already on the Hub with the same content. */
  skipped: LocalFile[];
}

/** The same content: sha256 for an LFS file, git's blob id for a regular one. */
export function sameContent(local: FileIdentity, remote: RemoteEntry): boolean {
  if (remote.lfs) return remote.lfs.oid === local.sha256;
  return remote.oid === local.gitOid && remote.size === local.size;
}

/**
 * Which files to upload, in which commits. Shards go first and the dataset card last, so a
 * reader never sees a card whose configs name files that are not there yet. Files the Hub
 * already holds with the same content are skipped, which is what makes a rerun resume.
 */
export function planPublish(local: LocalFile[], remote: Map<string, RemoteEntry>, opts: { maxFilesPerCommit: number }): PublishPlan {
  const rank = (p: string) => (p === 'README.md' ? 2 : p === 'manifest.json' ? 1 : 0);
  const ordered = [...local].sort((a, b) => rank(a.path) - rank(b.path) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const skipped: LocalFile[] = [];
  const toUpload: LocalFile[] = [];
  for (const f of ordered) {
    const r = remote.get(f.path);
    if (r && sameContent(f, r)) skipped.push(f);
    else toUpload.push(f);
  }
  const batches: LocalFile[][] = [];
  for (let i = 0; i < toUpload.length; i += opts.maxFilesPerCommit) batches.push(toUpload.slice(i, i + opts.maxFilesPerCommit));
  return { batches, skipped };
}
