import { spawn } from 'node:child_process';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StageError } from '../core/errors.js';

export interface FileLock {
  release(): Promise<void>;
}

export interface FileLockOptions {
  /** Called once when another process holds the lock and this one starts to wait. */
  onWait?: () => void;
}

/**
 * flock(1) from util-linux takes the lock on a descriptor it inherits from us. A flock lock
 * belongs to the open file description, not to the process, so it stays held by our handle
 * after the child exits and is released when we close it, or when the kernel closes it
 * because this process died.
 */
function flockOn(fh: FileHandle, mode: '-n' | '-x'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', [mode, '3'], { stdio: ['ignore', 'ignore', 'pipe', fh.fd] });
    let err = '';
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new StageError(
          e.code === 'ENOENT'
            ? 'the `flock` command (util-linux) is not installed; it is needed to share the Hugging Face cache safely with other downloads: apt-get install util-linux'
            : `could not run flock: ${e.message}`,
        ),
      ),
    );
    child.on('close', (code) => {
      // flock -n exits 1 when the lock is held elsewhere.
      if (code === 0) resolve(true);
      else if (code === 1 && mode === '-n' && err === '') resolve(false);
      else reject(new StageError(`flock ${mode} failed (exit ${code}): ${err.trim()}`));
    });
  });
}

/**
 * An exclusive lock on `path`, the same lock Python's filelock takes (flock(2) on the file,
 * which is created 0664 and left in place), so huggingface_hub and this tool wait for each
 * other on one cache. Waits as long as the holder needs, as huggingface_hub does.
 */
export async function acquireFileLock(path: string, o: FileLockOptions = {}): Promise<FileLock> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'a', 0o664);
  try {
    if (!(await flockOn(fh, '-n'))) {
      o.onWait?.();
      await flockOn(fh, '-x');
    }
  } catch (e) {
    await fh.close();
    throw e;
  }
  // As WeakFileLock does (mode 0o664, applied once held): users sharing a cache can all wait on it.
  await fh.chmod(0o664).catch(() => {});
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await fh.close();
    },
  };
}

export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: FileLockOptions = {}): Promise<T> {
  const lock = await acquireFileLock(path, o);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
