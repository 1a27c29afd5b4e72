import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import type { StageCounts } from './stage.js';

export const MARKER_FILE = '_SUCCESS.json';

export interface FileEntry {
  /** Relative to the stage directory, or absolute for files outside it (shards). */
  path: string;
  bytes: number;
  sha256: string;
  rows?: number;
}

/** A finished stage's completion record: the runner's counts plus what decides reuse. */
export interface StageMarker extends StageCounts {
  stage: string;
  index: number;
  version: number;
  /** Hash of the stage's options, its version and what it read; a rerun skips when it matches. */
  fingerprint: string;
  /** Fresh for every execution, so that stages after a re-executed one re-execute too. */
  execution_id: string;
  notes: unknown;
  /** Files later stages may read, by name (relative to the stage directory). */
  published?: Record<string, string>;
  files: FileEntry[];
  seconds: number;
  /** CPU seconds of the process over the stage, all threads (absent in markers written before it was recorded). */
  cpu_seconds?: number;
  finished_at: string;
}

export async function readMarker(dir: string): Promise<StageMarker | null> {
  try {
    return JSON.parse(await readFile(join(dir, MARKER_FILE), 'utf8')) as StageMarker;
  } catch {
    return null;
  }
}

export async function writeMarker(dir: string, marker: StageMarker): Promise<void> {
  await writeFileAtomic(join(dir, MARKER_FILE), JSON.stringify(marker, null, 2) + '\n');
}

/** Whether every file a marker lists is still there with its recorded size. */
export async function markerFilesIntact(dir: string, marker: StageMarker): Promise<boolean> {
  for (const f of marker.files) {
    try {
      const st = await stat(f.path.startsWith('/') ? f.path : join(dir, f.path));
      if (st.size !== f.bytes) return false;
    } catch {
      return false;
    }
  }
  return true;
}
