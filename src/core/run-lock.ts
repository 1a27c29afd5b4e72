import { readFileSync } from 'node:fs';
import { link, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tempSibling, writeFileAtomic } from './atomic.js';
import { UserlmError } from './errors.js';
import { fsFailure } from './fs-failure.js';
import { makeDir } from './make-dir.js';
import { processAlive } from './process-alive.js';

export const LOCK_FILE = '.lock';

interface LockOwner {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux), so that a recycled pid is not mistaken for the owner. */
  started: string | null;
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(owner: LockOwner): boolean {
  if (!processAlive(owner.pid)) return false;
  if (owner.started === null) return true;
  const now = startTime(owner.pid);
  return now === null || now === owner.started;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(o.pid) && (o.pid as number) > 0 && typeof o.host === 'string') {
      return { pid: o.pid as number, host: o.host, started: typeof o.started === 'string' ? o.started : null };
    }
  } catch {
    // Older locks held a bare pid.
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { pid, host: hostname(), started: null } : null;
}

function inUse(what: string, path: string, owner: LockOwner): UserlmError {
  return owner.host === hostname()
    ? new UserlmError(`${what} is in use by another run (pid ${owner.pid}); wait for it to finish or stop it, then rerun`)
    : new UserlmError(
        `${what} is in use by a run on host ${owner.host} (pid ${owner.pid}); wait for it to finish, or delete ${path} if that run is gone`,
      );
}

/**
 * One run per run directory. The lock file appears with its owner already in it (written
 * aside, then hard-linked into place, which fails if a lock exists), so no reader ever
 * sees an empty lock. A lock whose process is gone (killed run) is taken over.
 */
export async function acquireRunLock(runDir: string): Promise<() => Promise<void>> {
  try {
    await makeDir(runDir);
  } catch (e) {
    throw fsFailure(e, `cannot create the run directory ${runDir}`);
  }
  return acquireLockFile(join(runDir, LOCK_FILE), runDir, `cannot create the run directory ${runDir}`);
}

/**
 * The same lock on any path (what: the directory it guards, for messages); its directory
 * must exist. out_dir is guarded this way too, so that two pipelines cannot write one.
 */
export async function acquireLockFile(path: string, what: string, doing = `cannot take the lock ${path}`): Promise<() => Promise<void>> {
  const runDir = what;
  const me: LockOwner = { pid: process.pid, host: hostname(), started: startTime(process.pid) };
  const mine = JSON.stringify(me) + '\n';
  const staged = tempSibling(path);
  try {
    await writeFileAtomic(staged, mine);
  } catch (e) {
    throw fsFailure(e, doing);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(staged, path);
        return async () => {
          // Only our own lock: never delete one a later run took over.
          if ((await readFile(path, 'utf8').catch(() => '')) === mine) await rm(path, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fsFailure(e, `cannot take the lock ${path}`);
      }
      const text = await readFile(path, 'utf8').catch(() => null);
      if (text === null) continue;
      const owner = parseOwner(text);
      if (owner && (owner.host !== me.host || alive(owner))) throw inUse(runDir, path, owner);
      // Stale. Move it aside rather than delete it, and check that what moved is what we
      // judged stale: another run may have taken it over in between.
      const aside = tempSibling(path);
      try {
        await rename(path, aside);
      } catch {
        continue;
      }
      const moved = await readFile(aside, 'utf8').catch(() => '');
      if (moved !== text) {
        await link(aside, path).catch(() => undefined);
        await rm(aside, { force: true });
        const other = parseOwner(moved);
        if (other && alive(other)) throw inUse(runDir, path, other);
        continue;
      }
      await rm(aside, { force: true });
    }
    throw new UserlmError(`cannot take the lock ${path}; if no run is active on ${runDir}, delete it and rerun`);
  } finally {
    await rm(staged, { force: true });
  }
}
