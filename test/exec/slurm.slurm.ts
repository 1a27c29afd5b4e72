import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { partitionsRoot } from '../../src/exec/partition.js';
import { runCliAsync, tempDir, writePipeline } from '../helpers.js';
import { executionIndependentFiles, shardedSampleYaml, singleRunAside } from './compare-runs.js';
import { startSlurmCluster, type SlurmCluster } from './slurm-cluster.js';

/** `make slurm-test`: the sample through `--executor slurm` with n = 4 on a real one-node Slurm. */

function events(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function poll(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('run --executor slurm on a real Slurm cluster, n = 4', { timeout: 900_000 }, () => {
  const dir = tempDir('userlm-slurm-');
  let cluster: SlurmCluster;
  const { file } = writePipeline(dir, shardedSampleYaml(dir));
  let single = { runDir: '', outDir: '' };
  const sharded = { runDir: join(dir, 'runs'), outDir: join(dir, 'out') };
  const slurm = (cmd: string, args: string[]) => spawnSync(cmd, args, { env: { ...process.env, ...cluster.env }, encoding: 'utf8' });
  const jobState = (id: string) => slurm('squeue', ['-h', '--states=all', '-j', id, '-o', '%T']).stdout.trim().split('\n');

  before(async () => {
    cluster = await startSlurmCluster(join(dir, 'cluster'));
    single = await singleRunAside(dir, file);
  });
  after(async () => cluster?.stop());

  it('survives a task killed midway, resubmits only what is missing, and writes what a local n = 1 run writes', async () => {
    const first = await runCliAsync(['run', file, '--executor', 'slurm', '--shards', '4', '--json'], cluster.env);
    assert.equal(first.status, 0, first.stderr);
    const jobs = events(first.stderr).filter((e) => e['event'] === 'slurm.submitted');
    assert.deepEqual(
      jobs.map((j) => [j['kind'], j['stages'], j['array'] ?? null]),
      [
        ['reduce', ['normalize'], null],
        ['map', ['filter'], [0, 1, 2, 3]],
        ['reduce', ['dedup'], null],
        ['map', ['intents', 'flip', 'tokenize'], [0, 1, 2, 3]],
        ['reduce', ['split', 'shards'], null],
      ],
    );
    // Kill array task 2 of the intents/flip/tokenize step midway: after its intents, before its tokenize.
    const mapJob = String(jobs[3]!['job_id']);
    const root = partitionsRoot(sharded.runDir, 4);
    await poll('partition 2 of intents', () => existsSync(join(root, 'intents', '00002', '_SUCCESS.json')), 600_000);
    const cancel = slurm('scancel', [`${mapJob}_2`]);
    assert.equal(cancel.status, 0, cancel.stderr);
    const lastJob = String(jobs[4]!['job_id']);
    await poll('the dependent jobs to be cancelled', () => jobState(lastJob).every((s) => s === 'CANCELLED' || s === 'COMPLETED' || s === 'FAILED'), 300_000);
    assert.deepEqual(jobState(`${mapJob}_2`), ['CANCELLED']);
    assert.equal(existsSync(join(root, 'tokenize', '00002', '_SUCCESS.json')), false, 'the task was killed before it finished');
    assert.deepEqual(jobState(lastJob), ['CANCELLED'], 'a failed dependency cancels the reduce step (afterok, kill-on-invalid-dep)');
    assert.equal(existsSync(sharded.outDir), false);

    const second = await runCliAsync(['run', file, '--executor', 'slurm', '--shards', '4', '--wait', '--json'], cluster.env);
    assert.equal(second.status, 0, second.stderr);
    const resubmitted = events(second.stderr).filter((e) => e['event'] === 'slurm.submitted');
    assert.deepEqual(
      resubmitted.map((j) => [j['kind'], j['stages'], j['array'] ?? null]),
      [
        ['map', ['intents', 'flip', 'tokenize'], [2]],
        ['reduce', ['split', 'shards'], null],
      ],
      'only the killed partition and the steps after it',
    );

    const a = executionIndependentFiles(single.runDir, single.outDir);
    const b = executionIndependentFiles(sharded.runDir, sharded.outDir);
    const rel = (f: string, x: typeof single) => (f.startsWith(x.outDir) ? f.replace(x.outDir, 'out') : f.replace(x.runDir, 'run'));
    assert.deepEqual(b.map((f) => rel(f, sharded)), a.map((f) => rel(f, single)));
    assert.ok(a.some((f) => f.endsWith('.parquet') && f.includes('/data/train-')));
    for (const [i, f] of a.entries()) {
      const cmp = spawnSync('cmp', [f, b[i]!], { encoding: 'utf8' });
      assert.equal(cmp.status, 0, `cmp ${f} ${b[i]}: ${cmp.stdout}${cmp.stderr}`);
    }
  });
});
