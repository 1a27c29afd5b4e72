import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic.js';
import type { RemoteFile } from './download-to-cache.js';

/** One file of a commit as huggingface_hub records it in <repo folder>/trees/<commit>.json. */
export interface TreeEntry {
  size: number;
  /** The git blob id (of the LFS pointer, for LFS files). */
  blob_id: string;
  lfs_sha256?: string;
  lfs_size?: number;
  xet_hash?: string;
}

/** A commit's whole listing: path -> entry. */
export type TreeListing = Record<string, TreeEntry>;

// huggingface_hub 1.x (_tree_cache.py): a file of another format version is ignored and re-fetched.
const FORMAT_VERSION = 1;
const XET_HASH = /^[0-9a-fA-F]{64}$/;

/** The blob a listed file is stored under in the cache: its sha256 for LFS files, its git blob id otherwise. */
export function remoteFileOf(path: string, e: TreeEntry): RemoteFile {
  return { path, size: e.lfs_size ?? e.size, etag: e.lfs_sha256 ?? e.blob_id };
}

/**
 * The text Python's json.dump(data, f, indent=1) writes (ASCII only, keys in the order given),
 * so that the file is the same whichever tool listed the commit first.
 */
function pythonJson(data: unknown): string {
  return JSON.stringify(data, null, 1).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Record a commit's listing where huggingface_hub reads it: an offline snapshot_download of
 * the commit needs it, and it lets both tools tell a complete snapshot from a partial one.
 * The listing is the whole commit, not just the files pulled: Python trusts it as the
 * commit's contents and would otherwise never fetch the rest.
 */
export async function writeTreeListing(path: string, listing: TreeListing): Promise<void> {
  // A listing with a malformed xet hash is one Python refuses to write, and ignores when read.
  if (Object.values(listing).some((e) => e.xet_hash !== undefined && !XET_HASH.test(e.xet_hash))) return;
  const files: TreeListing = {};
  for (const p of Object.keys(listing).sort(byCodePoint)) {
    const e = listing[p]!;
    files[p] = {
      size: e.size,
      blob_id: e.blob_id,
      ...(e.lfs_sha256 !== undefined ? { lfs_sha256: e.lfs_sha256, lfs_size: e.lfs_size } : {}),
      ...(e.xet_hash !== undefined ? { xet_hash: e.xet_hash } : {}),
    };
  }
  await writeFileAtomic(path, pythonJson({ format_version: FORMAT_VERSION, files }));
}

// Python's sorted() on str compares code points; JS's default sort compares UTF-16 units.
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** The recorded listing of a commit, or null when there is none or it is not one Python would use either. */
export async function readTreeListing(path: string): Promise<TreeListing | null> {
  let data: { format_version?: unknown; files?: unknown };
  try {
    data = JSON.parse(await readFile(path, 'utf8')) as typeof data;
  } catch {
    return null;
  }
  if (data?.format_version !== FORMAT_VERSION || typeof data.files !== 'object' || data.files === null) return null;
  const out: TreeListing = {};
  for (const [p, e] of Object.entries(data.files as Record<string, Partial<TreeEntry> | null>)) {
    if (!e || typeof e.size !== 'number' || typeof e.blob_id !== 'string') return null;
    if (e.xet_hash !== undefined && e.xet_hash !== null && !XET_HASH.test(e.xet_hash)) return null;
    out[p] = {
      size: e.size,
      blob_id: e.blob_id,
      ...(typeof e.lfs_sha256 === 'string' ? { lfs_sha256: e.lfs_sha256, lfs_size: typeof e.lfs_size === 'number' ? e.lfs_size : e.size } : {}),
    };
  }
  return out;
}
