import { open, rename, rm, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { redactSecrets } from './redact-secrets.js';

/** A sibling path that is unique to this process, for write-then-rename. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Write a file so that readers see either the old content or the whole new content, even after a power cut. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    const fh = await open(tmp, 'w');
    try {
      // Markers, job lists and receipts can carry endpoint messages; no secret reaches the disk.
      await fh.writeFile(typeof data === 'string' ? redactSecrets(data) : data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dirname(path));
}

/** fsync a file written by someone else (DuckDB's COPY does not), before it is published by a rename. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync a directory so that a rename inside it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  await syncFile(dir);
}
