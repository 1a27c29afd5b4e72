import { basename, join } from 'node:path';

export type RepoType = 'dataset' | 'model';

export interface CacheLayout {
  repoDir: string;
  blob(etag: string): string;
  /**
   * Where this tool's download of a blob accumulates, resumable, while it holds the blob's
   * lock. huggingface_hub (1.x) does not resume this file: it downloads to its own
   * blobs/<etag>.<8 hex>.incomplete and deletes that on failure.
   */
  incomplete(etag: string): string;
  /** The per-blob lock huggingface_hub takes around a download: <cache>/.locks/<repo folder>/<etag>.lock. */
  lock(etag: string): string;
  /** The commit's whole listing, where huggingface_hub reads it back offline. */
  tree(sha: string): string;
  snapshot(sha: string, path?: string): string;
  ref(revision: string): string;
}

/** The Hugging Face cache layout: <cache>/datasets--owner--name/{blobs,snapshots/<sha>,refs,trees}. */
export function cacheLayout(cacheDir: string, type: RepoType, repo: string): CacheLayout {
  const repoDir = join(cacheDir, [`${type}s`, ...repo.split('/')].join('--'));
  return {
    repoDir,
    blob: (etag) => join(repoDir, 'blobs', etag),
    incomplete: (etag) => join(repoDir, 'blobs', `${etag}.incomplete`),
    lock: (etag) => join(cacheDir, '.locks', basename(repoDir), `${etag}.lock`),
    tree: (sha) => join(repoDir, 'trees', `${sha}.json`),
    snapshot: (sha, path) => (path === undefined ? join(repoDir, 'snapshots', sha) : join(repoDir, 'snapshots', sha, ...path.split('/'))),
    ref: (revision) => join(repoDir, 'refs', ...revision.split('/')),
  };
}
