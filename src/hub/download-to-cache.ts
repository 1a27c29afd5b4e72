import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, rename, rm, stat, symlink, truncate } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { downloadFile, fileDownloadInfo } from '@huggingface/hub';
import { syncFile } from '../core/atomic.js';
import { RetryableError, SourceError } from '../core/errors.js';
import { cacheLayout, type CacheLayout, type RepoType } from './cache-layout.js';
import { dropPartials, dropStalePartials } from './drop-stale-partials.js';
import { acquireFileLock, type FileLock } from './file-lock.js';
import { hubFailure } from './hub-failure.js';

export interface RemoteFile {
  path: string;
  size: number;
  /** sha256 for LFS files, the git blob id otherwise: the name of the blob in the cache. */
  etag: string;
}

export interface DownloadOptions {
  repo: string;
  type: RepoType;
  /** The resolved commit: downloads use it so that a moving branch cannot mix revisions. */
  sha: string;
  file: RemoteFile;
  cacheDir: string;
  endpoint: string;
  token?: string;
  fetch?: typeof fetch;
  /** Called with the lock's path when another process (a pull, or Python) is downloading this blob and this one waits. */
  onWait?: (lock: string) => void;
  /** Awaited once the Hub has granted access to the file, before anything is written to the cache. */
  onAccess?: () => Promise<void>;
  /** Called with each chunk's byte count, for progress. */
  onBytes?: (n: number) => void;
  /** @default 4 */
  attempts?: number;
  /** Backoff between attempts. @default 1000 * 2^(attempt-1) ms */
  sleep?: (attempt: number) => Promise<void>;
}

export type DownloadOutcome = 'cached' | 'linked' | 'downloaded';

async function exists(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/** The blob's name is its content hash: sha256 for LFS files, git's blob id for the rest. */
function hasherFor(etag: string, size: number): Hash {
  if (/^[0-9a-f]{64}$/.test(etag)) return createHash('sha256');
  return createHash('sha1').update(`blob ${size}\0`);
}

async function linkSnapshot(blobPath: string, pointer: string): Promise<void> {
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  // Relative, as huggingface_hub does, so that a moved cache keeps working.
  await symlink(relative(dirname(pointer), blobPath), pointer);
}

const defaultSleep = (attempt: number) => new Promise<void>((r) => setTimeout(r, 1000 * 2 ** (attempt - 1)));

/**
 * One file of a repo into the Hugging Face cache: blobs/<etag> plus the snapshot symlink.
 * The work happens under the blob's lock in <cache>/.locks, the one huggingface_hub takes, so
 * a second pull or a Python download of the same blob waits and then finds it done. Bytes
 * accumulate in blobs/<etag>.incomplete and a retry or a later run continues it with a
 * Range request. The blob only appears once its size and hash match the Hub's listing, so
 * the cache never holds a wrong or partial file under its final name.
 */
export async function downloadToCache(o: DownloadOptions): Promise<DownloadOutcome> {
  const layout = cacheLayout(o.cacheDir, o.type, o.repo);
  const { file } = o;
  const pointer = layout.snapshot(o.sha, file.path);
  const blobPath = layout.blob(file.etag);
  const incomplete = layout.incomplete(file.etag);
  const onWait = () => o.onWait?.(layout.lock(file.etag));
  if ((await exists(pointer)) === file.size) {
    await dropStalePartials(layout.lock, [{ path: pointer, size: file.size }], { onWait });
    return 'cached';
  }
  let lock: FileLock | undefined;
  const takeLock = async () => {
    lock ??= await acquireFileLock(layout.lock(file.etag), { onWait });
    return (await exists(blobPath)) === file.size;
  };
  try {
    // Nothing is written to the cache before the Hub has said yes to this file (gated repos).
    if ((await exists(blobPath)) === file.size || !(await download(o, layout, incomplete, takeLock))) {
      await takeLock();
      await dropPartials(blobPath);
      await linkSnapshot(blobPath, pointer);
      return 'linked';
    }
    await linkSnapshot(blobPath, pointer);
    return 'downloaded';
  } finally {
    await lock?.release();
  }
}

/**
 * Fetch the blob into place; false when, once the lock was ours, another process had already
 * finished it. `takeLock` takes the blob's lock (once) and says whether the blob is there.
 */
async function download(o: DownloadOptions, layout: CacheLayout, incomplete: string, takeLock: () => Promise<boolean>): Promise<boolean> {
  const { file } = o;
  const blobPath = layout.blob(file.etag);
  const attempts = o.attempts ?? 4;
  const ctx = {
    repo: o.repo,
    type: o.type,
    endpoint: o.endpoint,
    doing: `downloading ${file.path} at ${o.sha.slice(0, 12)}`,
    hasToken: o.token !== undefined,
    resume: `the bytes so far are kept in ${incomplete}; rerun \`userlm-data pull\` to resume from there`,
  };
  for (let attempt = 1; ; attempt++) {
    try {
      // The probe answers 401/403 for gated files before anything is written to the cache.
      const info = await fileDownloadInfo({ repo: { type: o.type, name: o.repo }, path: file.path, revision: o.sha, hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch });
      if (!info) throw new SourceError(`${o.repo}: ${file.path} is not in revision ${o.sha}; check hub.files in the pipeline`);
      if (info.size !== file.size) {
        throw new SourceError(`${o.repo}: ${file.path} is ${info.size} bytes at download but the listing said ${file.size}; rerun \`userlm-data pull\``);
      }
      await o.onAccess?.();
      if (await takeLock()) return false;
      await mkdir(dirname(incomplete), { recursive: true });
      let offset = (await exists(incomplete)) ?? 0;
      if (offset > file.size) {
        await truncate(incomplete, 0);
        offset = 0;
      }
      const hash = hasherFor(file.etag, file.size);
      if (offset > 0) for await (const chunk of createReadStream(incomplete)) hash.update(chunk as Buffer);
      if (offset < file.size) {
        const blob = await downloadFile({
          repo: { type: o.type, name: o.repo },
          path: file.path,
          revision: o.sha,
          hubUrl: o.endpoint,
          accessToken: o.token,
          fetch: o.fetch,
          downloadInfo: info,
          xet: false,
        });
        if (!blob) throw new SourceError(`${o.repo}: ${file.path} is not in revision ${o.sha}; check hub.files in the pipeline`);
        const body = offset > 0 ? blob.slice(offset) : blob;
        const tap = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            o.onBytes?.(chunk.length);
            cb(null, chunk);
          },
        });
        await pipeline(Readable.fromWeb(body.stream() as WebReadableStream), tap, createWriteStream(incomplete, { flags: 'a' }));
      }
      const got = (await exists(incomplete)) ?? 0;
      const digest = hash.digest('hex');
      if (got !== file.size || digest !== file.etag) {
        // A wrong prefix cannot be repaired by resuming: start over.
        await rm(incomplete, { force: true });
        throw new RetryableError(
          `${o.repo}: ${file.path} arrived with ${got} bytes and hash ${digest.slice(0, 12)}, expected ${file.size} bytes and ${file.etag.slice(0, 12)}; ` +
            'the partial file was discarded, rerun `userlm-data pull`',
        );
      }
      await syncFile(incomplete);
      await rename(incomplete, blobPath);
      return true;
    } catch (e) {
      const err = hubFailure(e, ctx);
      if (!(err instanceof RetryableError) || attempt >= attempts) {
        if (err instanceof RetryableError && attempts > 1) err.message = `${err.message} (gave up after ${attempts} attempts)`;
        throw err;
      }
      await (o.sleep ?? defaultSleep)(attempt);
    }
  }
}

/** True when the cache holds this file of this commit, complete. */
export async function inCache(cacheDir: string, type: RepoType, repo: string, sha: string, file: RemoteFile): Promise<boolean> {
  const pointer = cacheLayout(cacheDir, type, repo).snapshot(sha, file.path);
  try {
    await lstat(pointer);
  } catch {
    return false;
  }
  return (await exists(pointer)) === file.size;
}
