import { readdir, readFile, stat } from 'node:fs/promises';
import type { HubRef } from '../config/pipeline-config.js';
import { cacheLayout } from './cache-layout.js';
import { matchGlob } from './match-glob.js';
import type { RemoteFile } from './download-to-cache.js';
import { readReceipt } from './pull-receipt.js';
import { readTreeListing, remoteFileOf } from './tree-listing.js';

export interface CachedHubFile {
  /** The snapshot path in the cache (a symlink to the blob). */
  path: string;
  /** The path inside the repo, which is what the manifest records. */
  repoPath: string;
  size: number;
}

export interface HubSourceFiles {
  /** The commit the files belong to; null when not even that is known offline. */
  sha: string | null;
  files: CachedHubFile[];
  /** Repo paths (or, without a listing, globs) that the cache lacks or holds cut short (named with their sizes). */
  missing: string[];
  /**
   * 'hub': the list comes from the Hub's listing of the commit (the receipt of a pull, or the
   * listing in the cache's trees/ that a pull or huggingface_hub wrote) and is exact;
   * 'cache': from what the snapshot holds.
   */
  listedBy: 'hub' | 'cache';
}

const FULL_SHA = /^[0-9a-f]{40}$/;

async function walk(dir: string, rel = ''): Promise<string[]> {
  let ents;
  try {
    ents = await readdir(rel ? `${dir}/${rel}` : dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of ents) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else out.push(r);
  }
  return out;
}

/**
 * A Hub source's files as the cache holds them, without the network. With a listing of the
 * commit (this run's receipt, or the cache's trees/<commit>.json from any pull or from
 * huggingface_hub) it knows exactly which files are missing or cut short; without one it
 * takes what the snapshot holds and can only say which globs match nothing.
 */
export async function hubSourceFiles(name: string, hub: HubRef, opts: { runDir: string; cacheDir: string }): Promise<HubSourceFiles> {
  const layout = cacheLayout(opts.cacheDir, hub.repo_type, hub.repo);
  const receipt = await readReceipt(opts.runDir, name, hub);
  const sized = async (repoPath: string, sha: string) => {
    const path = layout.snapshot(sha, repoPath);
    try {
      return { path, repoPath, size: (await stat(path)).size };
    } catch {
      return null;
    }
  };
  const check = async (sha: string, listed: RemoteFile[]): Promise<HubSourceFiles> => {
    const files: CachedHubFile[] = [];
    const missing: string[] = [];
    for (const f of listed) {
      const got = await sized(f.path, sha);
      if (got && got.size === f.size) files.push(got);
      else missing.push(got ? `${f.path} (${got.size} of ${f.size} bytes)` : f.path);
    }
    return { sha, files, missing, listedBy: 'hub' };
  };
  if (receipt) return check(receipt.sha, receipt.files);
  let sha: string | null = FULL_SHA.test(hub.revision) ? hub.revision : null;
  if (!sha) sha = (await readFile(layout.ref(hub.revision), 'utf8').catch(() => '')).trim() || null;
  if (!sha) return { sha: null, files: [], missing: [...hub.files], listedBy: 'cache' };
  const tree = await readTreeListing(layout.tree(sha));
  if (tree) {
    const listed = Object.entries(tree)
      .filter(([p]) => matchGlob(hub.files)(p))
      .map(([p, e]) => remoteFileOf(p, e))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const unmatched = hub.files.filter((g) => !listed.some((f) => matchGlob([g])(f.path)));
    const r = await check(sha, listed);
    return { ...r, missing: [...r.missing, ...unmatched.map((g) => `${g} (matches no file of the commit)`)] };
  }
  const all = (await walk(layout.snapshot(sha))).sort();
  const files: CachedHubFile[] = [];
  const missing: string[] = [];
  for (const pattern of hub.files) {
    const match = matchGlob([pattern]);
    const hits = all.filter(match);
    if (hits.length === 0) missing.push(pattern);
    for (const p of hits) {
      if (files.some((f) => f.repoPath === p)) continue;
      const got = await sized(p, sha);
      if (got) files.push(got);
    }
  }
  files.sort((a, b) => (a.repoPath < b.repoPath ? -1 : a.repoPath > b.repoPath ? 1 : 0));
  return { sha, files, missing, listedBy: 'cache' };
}
