import { join } from 'node:path';

export type RepoType = 'dataset' | 'model';

export interface CacheLayout {
  repoDir: string;
  blob(etag: string): string;
  /** Where a download in progress accumulates; Python's huggingface_hub resumes the same file. */
  incomplete(etag: string): string;
  snapshot(sha: string, path?: string): string;
  ref(revision: string): string;
}

/** The Hugging Face cache layout: <cache>/datasets--owner--name/{blobs,snapshots/<sha>,refs}. */
export function cacheLayout(cacheDir: string, type: RepoType, repo: string): CacheLayout {
  const repoDir = join(cacheDir, [`${type}s`, ...repo.split('/')].join('--'));
  return {
    repoDir,
    blob: (etag) => join(repoDir, 'blobs', etag),
    incomplete: (etag) => join(repoDir, 'blobs', `${etag}.incomplete`),
    snapshot: (sha, path) => (path === undefined ? join(repoDir, 'snapshots', sha) : join(repoDir, 'snapshots', sha, ...path.split('/'))),
    ref: (revision) => join(repoDir, 'refs', ...revision.split('/')),
  };
}
