import { readFileSync } from 'node:fs';

/**
 * Whether a process with this pid exists on this machine and can still act (EPERM: it exists,
 * owned by someone else). A zombie (state Z, or X: being reaped) has exited and only waits for
 * its parent to collect its status; signal 0 still reaches it, so /proc decides.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // No /proc (not Linux) or the process ended just now: trust the signal.
    return process.platform !== 'linux';
  }
  // The command name (field 2) may hold spaces and parentheses; the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}
