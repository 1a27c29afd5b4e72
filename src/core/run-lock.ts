import { open, readFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { UserlmError } from './errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One run per run directory. A lock left by a killed process is taken over. */
export async function acquireRunLock(runDir: string): Promise<() => Promise<void>> {
  await mkdir(runDir, { recursive: true });
  const path = join(runDir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UserlmError(`${runDir} is in use by another run (pid ${pid}); wait for it to finish or stop it, then rerun`);
      }
      await rm(path, { force: true });
    }
  }
  throw new UserlmError(`cannot take the lock ${path}; remove it if no run is active`);
}
