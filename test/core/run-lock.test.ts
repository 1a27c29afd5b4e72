import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { acquireRunLock, LOCK_FILE } from '../../src/core/run-lock.js';
import { runCli, samplePipelineYaml, tempDir } from '../helpers.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('run lock', () => {
  it('appears with its owner already written, and refuses a second run while held', async () => {
    const dir = tempDir();
    const release = await acquireRunLock(dir);
    const owner = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.host, hostname());
    await assert.rejects(acquireRunLock(dir), /is in use by another run \(pid \d+\); wait for it to finish or stop it, then rerun/);
    await release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    assert.deepEqual(readdirSync(dir), [], 'no staged lock file left behind');
  });

  it('takes over a lock left by a killed run: dead pid, recycled pid, bare pid, empty file', async () => {
    const probe = tempDir();
    const releaseProbe = await acquireRunLock(probe);
    const me = JSON.parse(readFileSync(join(probe, LOCK_FILE), 'utf8'));
    await releaseProbe();
    const stale = [
      JSON.stringify({ pid: deadPid(), host: hostname(), started: '1' }),
      // A live pid whose start time differs: the pid was recycled after the owner died.
      ...(me.started === null ? [] : [JSON.stringify({ pid: process.pid, host: hostname(), started: `${me.started}0` })]),
      String(deadPid()),
      '',
    ];
    for (const text of stale) {
      const dir = tempDir();
      writeFileSync(join(dir, LOCK_FILE), text);
      const release = await acquireRunLock(dir);
      assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid, `took over ${JSON.stringify(text)}`);
      await release();
    }
  });

  it('never takes over a lock held on another host, and says how to clear it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: 'elsewhere.example', started: '1' }));
    await assert.rejects(acquireRunLock(dir), (e: Error) => {
      assert.match(e.message, /in use by a run on host elsewhere\.example \(pid \d+\); wait for it to finish, or delete .*\.lock if that run is gone/);
      return true;
    });
  });

  it('does not delete a lock that another run took over', async () => {
    const dir = tempDir();
    const release = await acquireRunLock(dir);
    const other = JSON.stringify({ pid: 1, host: hostname(), started: null });
    writeFileSync(join(dir, LOCK_FILE), other);
    await release();
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), other);
  });

  it('the CLI refuses a second run on the same run directory, without a stack trace', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'p.yaml'), samplePipelineYaml(dir));
    const release = await acquireRunLock(join(dir, 'runs'));
    try {
      const r = runCli(['run', join(dir, 'p.yaml')]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^error: .*runs is in use by another run \(pid \d+\)/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      await release();
    }
  });
});
