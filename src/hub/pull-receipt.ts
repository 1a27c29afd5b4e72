import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HubRef } from '../config/pipeline-config.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { RemoteFile } from './download-to-cache.js';

/**
 * What the Hub listed for a source at its commit: the files its globs name, with sizes and
 * hashes. A commit never changes, so once written it tells `run` and `--offline` exactly
 * which files must be in the cache without asking the Hub again.
 */
export interface PullReceipt {
  repo: string;
  repo_type: 'dataset' | 'model';
  revision: string;
  patterns: string[];
  /** The resolved commit sha. */
  sha: string;
  files: RemoteFile[];
}

export function receiptPath(runDir: string, source: string): string {
  return join(runDir, 'hub', `${source}.json`);
}

/** The receipt for this source's hub block, or null when none was written or it is for other settings. */
export async function readReceipt(runDir: string, source: string, hub: HubRef): Promise<PullReceipt | null> {
  let r: PullReceipt;
  try {
    r = JSON.parse(await readFile(receiptPath(runDir, source), 'utf8')) as PullReceipt;
  } catch {
    return null;
  }
  const same =
    r.repo === hub.repo &&
    r.repo_type === hub.repo_type &&
    r.revision === hub.revision &&
    JSON.stringify(r.patterns) === JSON.stringify(hub.files) &&
    Array.isArray(r.files);
  return same ? r : null;
}

export async function writeReceipt(runDir: string, source: string, r: PullReceipt): Promise<void> {
  await writeFileAtomic(receiptPath(runDir, source), JSON.stringify(r, null, 2) + '\n');
}
