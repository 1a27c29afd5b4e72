import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { processAlive } from '../../src/core/process-alive.js';
import { acquireRunLock, LOCK_FILE } from '../../src/core/run-lock.js';
import { tempDir } from '../helpers.js';

/** A process in state Z: its parent (a sleeping shell that exec'd into sleep) never reaps it. */
async function withZombie<T>(fn: (pid: number) => Promise<T>): Promise<T> {
  const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    for (let i = 0; i < 200; i++) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return await fn(pid);
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`pid ${pid} never became a zombie`);
  } finally {
    parent.kill('SIGKILL');
  }
}

describe('run lock and zombies', () => {
  it('a zombie pid is not alive, and its lock is taken over', async () => {
    await withZombie(async (pid) => {
      process.kill(pid, 0); // the signal still reaches it: that is what misled the lock
      assert.equal(processAlive(pid), false);
      const dir = tempDir();
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), started }) + '\n');
      const release = await acquireRunLock(dir);
      assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
      await release();
    });
    assert.equal(processAlive(process.pid), true);
  });
});
