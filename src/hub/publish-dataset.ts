import { openAsBlob } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { commitIter, createBranch, createRepo, HubApiError, listFiles, type CommitOutput } from '@huggingface/hub';
import { SourceError, UserlmError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { startProgress } from '../core/progress.js';
import type { Manifest } from '../stages/shards/manifest.js';
import { fileIdentity } from './file-identity.js';
import { hubFailure, repoPage, type HubContext } from './hub-failure.js';
import { CARD_CHART_FILES } from '../report/write-card-charts.js';
import { planPublish, type LocalFile, type RemoteEntry } from './plan-publish.js';

/** The Hub's advice is 50-100 files per commit; more makes commits slow and fragile. */
export const MAX_FILES_PER_COMMIT = 50;

export interface PublishOptions {
  /** A finished dataset: out_dir of a run (manifest.json, README.md, data/). */
  outDir: string;
  /** owner/name of the dataset repo; created when missing. */
  repo: string;
  /** Create the repo private (an existing repo keeps its visibility). */
  private?: boolean;
  /** Commit to this branch, created from main when missing. @default "main" */
  branch?: string;
  /** Open a pull request against main instead of committing to it. */
  pr?: boolean;
  endpoint: string;
  token: string;
  fetch?: typeof fetch;
  log: Logger;
  /** @default 50 (also the maximum) */
  maxFilesPerCommit?: number;
}

export interface PublishResult {
  url: string;
  created: boolean;
  commits: string[];
  uploaded: string[];
  skipped: string[];
  pullRequestUrl?: string;
}

async function readManifest(outDir: string): Promise<Manifest> {
  const path = join(outDir, 'manifest.json');
  try {
    const m = JSON.parse(await readFile(path, 'utf8')) as Manifest;
    if (!Array.isArray(m.files)) throw new Error('no files list');
    return m;
  } catch (e) {
    throw new SourceError(
      `${outDir} is not a finished dataset: cannot read ${path} (${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}); ` +
        'pass the out_dir of a completed `userlm-data run`',
    );
  }
}

/** The dataset's files with their content ids, checked against the manifest the run wrote. */
async function localFiles(outDir: string, m: Manifest): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  // The card's chart images go along when the run drew them (runs before the charts existed did not).
  const charts: string[] = [];
  for (const rel of CARD_CHART_FILES) if (await stat(join(outDir, rel)).then((x) => x.isFile(), () => false)) charts.push(rel);
  for (const rel of [...m.files.map((f) => f.path), ...charts, 'manifest.json', 'README.md']) {
    const abs = join(outDir, rel);
    const st = await stat(abs).catch(() => null);
    if (!st?.isFile()) throw new SourceError(`${outDir}: ${rel} is missing (manifest.json lists it); rerun \`userlm-data run\` to rebuild the dataset`);
    const id = await fileIdentity(abs);
    const listed = m.files.find((f) => f.path === rel);
    if (listed && listed.sha256 !== id.sha256) {
      throw new SourceError(`${outDir}: ${rel} differs from the sha256 in manifest.json (changed after the run?); rerun \`userlm-data run\` to rebuild the dataset`);
    }
    out.push({ path: rel, ...id });
  }
  return out;
}

async function remoteFiles(o: PublishOptions, revision: string): Promise<Map<string, RemoteEntry>> {
  const out = new Map<string, RemoteEntry>();
  // listFiles puts the revision into the URL unencoded; refs/pr/N needs it encoded.
  for await (const e of listFiles({ repo: { type: 'dataset', name: o.repo }, revision: encodeURIComponent(revision), recursive: true, hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch })) {
    if (e.type === 'file') out.set(e.path, { size: e.size, oid: e.oid, lfs: e.lfs });
  }
  return out;
}

/**
 * Upload a finished dataset to a Hub dataset repo: create it if missing, skip files the Hub
 * already holds with the same content, and commit the rest in batches (shards first, the card
 * last). An interrupted publish leaves whole commits behind, so rerunning it uploads only what
 * is still missing.
 */
export async function publishDataset(o: PublishOptions): Promise<PublishResult> {
  const max = Math.min(o.maxFilesPerCommit ?? MAX_FILES_PER_COMMIT, MAX_FILES_PER_COMMIT);
  if (o.pr && o.branch && o.branch !== 'main') throw new UserlmError('use either --branch or --pr: a pull request always targets main');
  const manifest = await readManifest(o.outDir);
  const local = await localFiles(o.outDir, manifest);
  const repo = { type: 'dataset' as const, name: o.repo };
  const branch = o.branch ?? 'main';
  const ctx: HubContext = {
    repo: o.repo,
    type: 'dataset',
    endpoint: o.endpoint,
    hasToken: true,
    doing: 'creating the repo',
    resume: 'rerun the same command: files already on the Hub with the same sha256 are skipped',
  };

  let created = true;
  try {
    await createRepo({ repo, visibility: o.private ? 'private' : undefined, hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch });
    o.log.info('publish.created', `created ${o.private ? 'private ' : ''}dataset repo ${o.repo}`, { repo: o.repo, private: !!o.private });
  } catch (e) {
    if (!(e instanceof HubApiError && e.statusCode === 409)) throw hubFailure(e, ctx);
    created = false;
    if (o.private) o.log.warn('publish.visibility', `${o.repo} already exists; its visibility is left as it is (--private applies to new repos)`);
  }
  if (branch !== 'main' && !branch.startsWith('refs/')) {
    try {
      await createBranch({ repo, branch, revision: 'main', hubUrl: o.endpoint, accessToken: o.token, fetch: o.fetch });
    } catch (e) {
      if (!(e instanceof HubApiError && e.statusCode === 409)) throw hubFailure(e, { ...ctx, doing: `creating branch ${branch}` });
    }
  }

  let remote: Map<string, RemoteEntry>;
  try {
    remote = await remoteFiles(o, o.pr ? 'main' : branch);
  } catch (e) {
    throw hubFailure(e, { ...ctx, doing: `listing the files on ${o.pr ? 'main' : branch}` });
  }
  const plan = planPublish(local, remote, { maxFilesPerCommit: max });
  const toUpload = plan.batches.flat();
  const bytes = toUpload.reduce((a, f) => a + f.size, 0);
  o.log.info(
    'publish.plan',
    `${o.repo}: ${toUpload.length} file(s) to upload (${(bytes / 1e6).toFixed(1)} MB) in ${plan.batches.length} commit(s); ${plan.skipped.length} already there with the same content`,
    { upload: toUpload.map((f) => f.path), skip: plan.skipped.map((f) => f.path), commits: plan.batches.length },
  );

  const result: PublishResult = { url: repoPage({ endpoint: o.endpoint, type: 'dataset', repo: o.repo }), created, commits: [], uploaded: [], skipped: plan.skipped.map((f) => f.path) };
  const progress = startProgress(o.log, 'upload', bytes, 'bytes');
  let target = o.pr ? 'main' : branch;
  try {
    for (const [i, batch] of plan.batches.entries()) {
      const openPr = !!o.pr && i === 0;
      const done = new Set<string>();
      const sizes = new Map(batch.map((f) => [f.path, f.size]));
      const gen = commitIter({
        repo,
        title: `Upload ${manifest.name}${plan.batches.length > 1 ? ` (part ${i + 1} of ${plan.batches.length})` : ''}`,
        description: `Written by ${manifest.generator.name} ${manifest.generator.version}; config hash ${manifest.config_hash}.`,
        operations: await Promise.all(batch.map(async (f) => ({ operation: 'addOrUpdate' as const, path: f.path, content: await openAsBlob(join(o.outDir, f.path)) }))),
        branch: target,
        isPullRequest: openPr,
        // The basic LFS transfer: a plain PUT of the bytes, which any Hub-compatible server accepts.
        useXet: false,
        hubUrl: o.endpoint,
        accessToken: o.token,
        fetch: o.fetch,
      });
      let step: IteratorResult<unknown, CommitOutput | undefined>;
      try {
        for (step = await gen.next(); !step.done; step = await gen.next()) {
          const ev = step.value as { event: string; path?: string; progress?: number; state?: string };
          if (ev.event === 'fileProgress' && ev.state === 'uploading' && ev.progress === 1 && ev.path && !done.has(ev.path)) {
            done.add(ev.path);
            progress.tick(sizes.get(ev.path) ?? 0);
          }
        }
      } catch (e) {
        throw hubFailure(e, {
          ...ctx,
          doing: `commit ${i + 1} of ${plan.batches.length}, ${batch.length} file(s) from ${batch[0]!.path}; ${result.uploaded.length} file(s) committed before it`,
        });
      }
      for (const f of batch) if (!done.has(f.path)) progress.tick(f.size);
      const out = step.value;
      if (out?.commit.oid) result.commits.push(out.commit.oid);
      result.uploaded.push(...batch.map((f) => f.path));
      if (openPr) {
        const n = /\/discussions\/(\d+)/.exec(out?.pullRequestUrl ?? '')?.[1];
        if (!n) throw new UserlmError(`${o.repo}: the Hub opened a pull request but did not say which (${out?.pullRequestUrl ?? 'no URL'})`);
        result.pullRequestUrl = out!.pullRequestUrl;
        // Later batches go onto the same pull request.
        target = `refs/pr/${n}`;
      }
    }
  } finally {
    progress.stop();
  }
  if (branch !== 'main') result.url = `${result.url}/tree/${encodeURIComponent(branch)}`;
  return result;
}
