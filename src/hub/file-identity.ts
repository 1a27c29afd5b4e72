import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface FileIdentity {
  size: number;
  /** What the Hub lists as lfs.oid for LFS files. */
  sha256: string;
  /** What the Hub lists as oid for regular (non-LFS) files: git's blob id. */
  gitOid: string;
}

/** Both ways the Hub can name a file's content, in one read. */
export async function fileIdentity(path: string): Promise<FileIdentity> {
  const size = (await stat(path)).size;
  const sha256 = createHash('sha256');
  const sha1 = createHash('sha1').update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) {
    sha256.update(chunk as Buffer);
    sha1.update(chunk as Buffer);
  }
  return { size, sha256: sha256.digest('hex'), gitOid: sha1.digest('hex') };
}
