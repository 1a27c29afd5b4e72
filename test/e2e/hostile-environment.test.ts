import assert from 'node:assert/strict';
import { STAGES } from '../../src/stages/recipe.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkVisibleState } from '../crash/crash-harness.js';
import { CLI, samplePipelineYaml, tempDir } from '../helpers.js';

/**
 * How this machine can take space or write access away from one run: as root, a private
 * mount namespace with a small or read-only tmpfs (nothing outside the child sees it);
 * otherwise file permissions and a file-size limit (writes past it fail with EFBIG).
 * USERLM_TEST_FAULTS=portable forces the second way.
 */
function faultMode(): 'mount' | 'portable' {
  if (process.env['USERLM_TEST_FAULTS'] === 'portable' || process.getuid?.() !== 0) return 'portable';
  const probe = tempDir();
  const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs '${probe}'`], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`running as root but cannot mount a tmpfs in a private namespace (${r.stderr || r.error}); run the tests as a normal user, or set USERLM_TEST_FAULTS=portable`);
  }
  return 'mount';
}

const node = (args: string, log: string) => `echo 0 >'${log}.status'; '${process.execPath}' '${CLI}' ${args} 2>'${log}' || echo $? >'${log}.status'`;

/** Run a shell script (in a private mount namespace for mode 'mount'); returns nothing, the script leaves its logs. */
function sh(mode: 'mount' | 'portable', script: string): void {
  const r = mode === 'mount' ? spawnSync('unshare', ['-m', 'sh', '-ec', script], { encoding: 'utf8' }) : spawnSync('sh', ['-ec', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, `the fault script failed: ${r.stderr}`);
}

function result(log: string): { status: number; stderr: string } {
  return { status: Number(readFileSync(`${log}.status`, 'utf8')), stderr: readFileSync(log, 'utf8') };
}

function events(stderr: string): { event: string; stage?: string }[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

describe('hostile environment', () => {
  const mode = faultMode();

  it('a read-only output or run directory: a clear error, finished stages kept, and a rerun resumes', () => {
    const dir = tempDir();
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    const outRo = join(dir, 'out-ro.yaml');
    writeFileSync(outRo, samplePipelineYaml(dir).replace(`out_dir: ${join(dir, 'out')}`, `out_dir: ${join(ro, 'out')}`));
    const runRo = join(dir, 'run-ro.yaml');
    writeFileSync(runRo, samplePipelineYaml(dir).replace(`run_dir: ${join(dir, 'runs')}`, `run_dir: ${join(ro, 'runs')}`));
    const [l1, l2] = [join(dir, 'out-ro.log'), join(dir, 'run-ro.log')];
    if (mode === 'mount') {
      sh(mode, `mount -t tmpfs -o ro,size=64k tmpfs '${ro}'\n${node(`run '${outRo}'`, l1)}\n${node(`run '${runRo}'`, l2)}`);
    } else {
      sh(mode, `chmod 555 '${ro}'\n${node(`run '${outRo}'`, l1)}\n${node(`run '${runRo}'`, l2)}\nchmod 755 '${ro}'`);
    }
    const a = result(l1);
    assert.equal(a.status, 4, a.stderr);
    assert.match(a.stderr, /error: cannot publish the finished dataset: a read-only file system or no permission \((EROFS|EACCES).*\)\. Make the directory writable for this user, or set run_dir\/out_dir in the pipeline file to a writable place, then rerun\./);
    assert.doesNotMatch(a.stderr, /\n\s+at |This is a bug/);
    const b = result(l2);
    assert.equal(b.status, 4, b.stderr);
    assert.match(b.stderr, /error: cannot create the run directory .*ro\/runs: a read-only file system or no permission/);
    assert.doesNotMatch(b.stderr, /\n\s+at |This is a bug/);

    // Writable again: every stage the first run finished is skipped, and the dataset appears.
    assert.deepEqual(readdirSync(join(dir, 'runs')).filter((n) => STAGES.some((s) => s.name === n)).sort(), STAGES.map((s) => s.name).sort());
    const again = spawnSync(process.execPath, [CLI, 'run', outRo, '--json'], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(events(again.stderr).filter((e) => e.event === 'stage.skip').length, STAGES.length);
    checkVisibleState(join(dir, 'runs'), join(ro, 'out'), 'after the rerun');
    assert.ok(existsSync(join(ro, 'out', 'manifest.json')));
  });

  it('a full disk: a clear error, no half-written stage, and a rerun with space resumes', () => {
    const dir = tempDir();
    const runs = join(dir, 'runs');
    mkdirSync(runs);
    const file = join(dir, 'p.yaml');
    writeFileSync(file, samplePipelineYaml(dir));
    const [l1, l2] = [join(dir, 'full.log'), join(dir, 'resume.log')];
    const snap = join(dir, 'snapshot');
    // The stage outputs take a few hundred KB: the tmpfs lets the first stages finish; the
    // file-size limit (30-60 KB, shells count in 512 or 1024-byte blocks) stops normalize's 65 KB output.
    if (mode === 'mount') {
      sh(mode, `mount -t tmpfs -o size=160k tmpfs '${runs}'\n${node(`run '${file}' --json`, l1)}\ncp -a '${runs}' '${snap}'\nmount -o remount,size=64m '${runs}'\n${node(`run '${file}' --json`, l2)}\ncp -a '${runs}/.' '${snap}.after'`);
    } else {
      sh(mode, `(ulimit -f 60; trap '' XFSZ; ${node(`run '${file}' --json`, l1)})\ncp -a '${runs}' '${snap}'\n${node(`run '${file}' --json`, l2)}\ncp -a '${runs}/.' '${snap}.after'`);
    }
    const a = result(l1);
    assert.equal(a.status, 4, a.stderr);
    assert.match(a.stderr, /error: stage \w+ failed: the disk is full or a file size limit was hit \(.*\)\. Free space .* then rerun: finished stages are kept\./);
    assert.doesNotMatch(a.stderr, /\n\s+at |This is a bug/);
    const kept = checkVisibleState(snap, join(dir, 'no-out-yet'), 'after the full-disk failure');
    assert.ok(kept.size < 7, 'the disk filled before the end');
    const b = result(l2);
    assert.equal(b.status, 0, b.stderr);
    const ev = events(b.stderr);
    assert.deepEqual(ev.filter((e) => e.event === 'stage.skip').map((e) => e.stage), [...kept.keys()], 'finished stages are not redone');
    const after = checkVisibleState(`${snap}.after`, join(dir, 'out'), 'after the rerun');
    for (const [name, id] of kept) assert.equal(after.get(name), id, `${name} kept its execution`);
    assert.equal(after.size, STAGES.length);
  });
});
