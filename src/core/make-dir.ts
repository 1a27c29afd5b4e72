import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * mkdir -p that reports the real cause: Node's recursive mkdir answers ENOENT when a parent
 * is on a read-only file system (EROFS), which would send the user looking for a missing path.
 */
export async function makeDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (e) {
    // dirname('/') is '/': stop there instead of recursing until the stack overflows.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw e;
    await makeDir(dirname(path));
    await mkdir(path).catch((e2: NodeJS.ErrnoException) => {
      if (e2.code !== 'EEXIST') throw e2;
    });
  }
}
