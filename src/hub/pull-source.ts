import { datasetInfo, listFiles, modelInfo } from '@huggingface/hub';
import type { HubRef } from '../config/pipeline-config.js';
import { writeFileAtomic } from '../core/atomic.js';
import { SourceError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { startProgress } from '../core/progress.js';
import { cacheLayout } from './cache-layout.js';
import { downloadToCache, type RemoteFile } from './download-to-cache.js';
import { hubFailure } from './hub-failure.js';
import { matchGlob } from './match-glob.js';
import { writeTreeListing, type TreeListing } from './tree-listing.js';
import { writeReceipt, type PullReceipt } from './pull-receipt.js';

export interface PullOptions {
  runDir: string;
  cacheDir: string;
  endpoint: string;
  token?: string;
  fetch?: typeof fetch;
  log: Logger;
  /** Files downloaded at once. @default 4 */
  concurrency?: number;
  /** Attempts per file, each resuming where the last stopped. @default 4 */
  attempts?: number;
  sleep?: (attempt: number) => Promise<void>;
}

export interface PullReport {
  source: string;
  repo: string;
  sha: string;
  files: number;
  bytes: number;
  downloaded: number;
  downloadedBytes: number;
  cached: number;
}

const formatBytes = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;

/**
 * Download the files a Hub source names, at its revision, into the shared Hugging Face
 * cache: resolve the revision to a commit, list that commit, record the listing (the
 * receipt in the run, and the whole commit's listing in the cache where huggingface_hub
 * reads it), fetch what the cache lacks, and point refs/<revision> at the commit when the
 * revision is a branch or tag.
 */
export async function pullSource(name: string, hub: HubRef, o: PullOptions): Promise<PullReport> {
  const ctx = {
    repo: hub.repo,
    type: hub.repo_type,
    endpoint: o.endpoint,
    hasToken: o.token !== undefined,
    resume: 'rerun `userlm-data pull` when the Hub answers again',
  };
  const repo = { type: hub.repo_type, name: hub.repo };
  let sha: string;
  try {
    const info =
      hub.repo_type === 'dataset'
        ? await datasetInfo({ name: hub.repo, revision: hub.revision, additionalFields: ['sha'], hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch })
        : await modelInfo({ name: hub.repo, revision: hub.revision, additionalFields: ['sha'], hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch });
    sha = String(info.sha ?? '');
  } catch (e) {
    throw hubFailure(e, { ...ctx, doing: `resolving revision ${hub.revision}` });
  }
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new SourceError(`${hub.repo}: the Hub resolved revision ${hub.revision} to "${sha}", which is not a commit sha`);
  if (/^[0-9a-f]{40}$/.test(hub.revision) && sha !== hub.revision) {
    throw new SourceError(`${hub.repo}: revision ${hub.revision} resolved to a different commit (${sha}); check hub.revision`);
  }

  const wanted = matchGlob(hub.files);
  const files: RemoteFile[] = [];
  const tree: TreeListing = {};
  try {
    for await (const e of listFiles({ repo, revision: sha, recursive: true, hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch })) {
      if (e.type !== 'file') continue;
      if (e.oid) {
        tree[e.path] = { size: e.size, blob_id: e.oid, ...(e.lfs ? { lfs_sha256: e.lfs.oid, lfs_size: e.lfs.size } : {}), ...(e.xetHash ? { xet_hash: e.xetHash } : {}) };
      }
      if (!wanted(e.path)) continue;
      const etag = e.lfs?.oid ?? e.oid;
      if (!etag) throw new SourceError(`${hub.repo}: the Hub listed ${e.path} without a hash; cannot verify it`);
      files.push({ path: e.path, size: e.lfs?.size ?? e.size, etag });
    }
  } catch (e) {
    throw hubFailure(e, { ...ctx, doing: `listing files at ${sha.slice(0, 12)}` });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const unmatched = hub.files.filter((p) => !files.some((f) => matchGlob([p])(f.path)));
  if (unmatched.length) {
    throw new SourceError(
      `${hub.repo}@${sha.slice(0, 12)}: no file matches ${unmatched.map((p) => `"${p}"`).join(', ')}; fix hub.files of source ${name} (paths are relative to the repo root)`,
    );
  }
  const receipt: PullReceipt = { repo: hub.repo, repo_type: hub.repo_type, revision: hub.revision, patterns: hub.files, sha, files };
  await writeReceipt(o.runDir, name, receipt);
  // Before the first byte of a blob, as huggingface_hub writes it before its downloads: a cut
  // pull then reads as incomplete to both tools. Not before the Hub has granted access, so
  // that a refused pull leaves the cache as it was.
  let treeWritten: Promise<void> | undefined;
  const recordTree = () => (treeWritten ??= writeTreeListing(cacheLayout(o.cacheDir, hub.repo_type, hub.repo).tree(sha), tree));

  const total = files.reduce((a, f) => a + f.size, 0);
  o.log.info('pull.source', `${name}: ${hub.repo} @ ${sha.slice(0, 12)}: ${files.length} file(s), ${formatBytes(total)}`, { source: name, repo: hub.repo, sha, files: files.length, bytes: total });
  const progress = startProgress(o.log, `${name} download`, total, 'bytes');
  const report: PullReport = { source: name, repo: hub.repo, sha, files: files.length, bytes: total, downloaded: 0, downloadedBytes: 0, cached: 0 };
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) {
      const file = f;
      let got = 0;
      const outcome = await downloadToCache({
        repo: hub.repo,
        type: hub.repo_type,
        sha,
        file,
        cacheDir: o.cacheDir,
        endpoint: o.endpoint,
        token: o.token,
        fetch: o.fetch,
        attempts: o.attempts,
        sleep: o.sleep,
        onAccess: recordTree,
        onWait: (lock) => o.log.info('pull.wait', `${name}: ${file.path} is being downloaded by another process (a pull, or Python's huggingface_hub); waiting for ${lock}`, { source: name, path: file.path, lock }),
        onBytes: (n) => {
          got += n;
          progress.tick(n);
        },
      });
      if (outcome === 'downloaded') {
        report.downloaded++;
        report.downloadedBytes += got;
      } else {
        report.cached++;
        progress.tick(file.size);
      }
      // Bytes resumed from an earlier run were counted neither here nor there: settle them.
      if (outcome === 'downloaded' && got < file.size) progress.tick(file.size - got);
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, files.length)) }, () =>
    worker().catch((e: unknown) => {
      // Start nothing new; let the files in flight finish so their blobs are complete.
      queue.length = 0;
      throw e;
    }),
  );
  const settled = await Promise.allSettled(workers);
  progress.stop();
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  // Everything may have been in the cache already, from a tool that wrote no listing.
  await recordTree();
  if (hub.revision !== sha) {
    // As huggingface_hub does: refs/<branch> names the commit, so that Python finds it too.
    await writeFileAtomic(cacheLayout(o.cacheDir, hub.repo_type, hub.repo).ref(hub.revision), sha);
  }
  o.log.info(
    'pull.done',
    `${name}: ${report.downloaded} downloaded (${formatBytes(report.downloadedBytes)}), ${report.cached} already in the cache -> ${cacheLayout(o.cacheDir, hub.repo_type, hub.repo).snapshot(sha)}`,
    { ...report },
  );
  return report;
}
