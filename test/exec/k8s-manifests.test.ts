import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { partitionsRoot } from '../../src/exec/partition.js';
import { REALDATA, ROOT, runCliAsync, tempDir, writePipeline } from '../helpers.js';
import { differingFiles, shardedSampleYaml, singleRunAside } from './compare-runs.js';

interface Job {
  metadata: { name: string };
  spec: {
    completions: number;
    completionMode?: string;
    backoffLimitPerIndex?: number;
    template: { spec: { restartPolicy: string; containers: { command: string[]; workingDir: string }[]; volumes: { persistentVolumeClaim: { claimName: string } }[] } };
  };
}

/** A container's command as a pod would run it: in its workingDir, with the index the Job controller sets. */
function runContainer(job: Job, index: number): Promise<{ code: number | null; stderr: string }> {
  const c = job.spec.template.spec.containers[0]!;
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: '1' };
    if (job.spec.completionMode === 'Indexed') env['JOB_COMPLETION_INDEX'] = String(index);
    const child = spawn(c.command[0]!, c.command.slice(1), { cwd: c.workingDir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('run --executor k8s: an Indexed Job manifest per step', () => {
  const dir = tempDir('userlm-k8s-');
  const { file } = writePipeline(dir, shardedSampleYaml(dir));
  let single = { runDir: '', outDir: '' };
  let jobs: Job[] = [];
  let k8sDir = '';

  before(async () => {
    single = await singleRunAside(dir, file);
    const r = await runCliAsync(['run', file, '--executor', 'k8s', '--shards', '2', '--k8s-claim', 'userlm-runs', '--k8s-workdir', ROOT]);
    assert.equal(r.status, 0, r.stderr);
    k8sDir = join(partitionsRoot(join(dir, 'runs'), 2), 'k8s');
    jobs = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => parseYaml(readFileSync(join(k8sDir, f), 'utf8')) as Job);
  });

  it('writes valid batch/v1 Jobs: map steps Indexed with one completion per partition, reduce steps single', () => {
    const schema = JSON.parse(readFileSync(join(REALDATA, 'k8s', 'job-fields.schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    for (const job of jobs) {
      assert.ok(validate(job), `${job.metadata.name}: ${JSON.stringify(validate.errors)}`);
      if (job.spec.backoffLimitPerIndex !== undefined) {
        assert.equal(job.spec.completionMode, 'Indexed', 'backoffLimitPerIndex needs completionMode Indexed');
        assert.equal(job.spec.template.spec.restartPolicy, 'Never', 'backoffLimitPerIndex needs restartPolicy Never');
      }
      assert.equal(job.spec.template.spec.volumes[0]!.persistentVolumeClaim.claimName, 'userlm-runs');
    }
    assert.deepEqual(
      jobs.map((j) => [j.spec.completionMode ?? 'NonIndexed', j.spec.completions]),
      [['NonIndexed', 1], ['Indexed', 2], ['NonIndexed', 1], ['Indexed', 2], ['NonIndexed', 1]],
    );
    assert.equal(new Set(jobs.map((j) => j.metadata.name)).size, jobs.length);
    const submit = readFileSync(join(k8sDir, 'submit.sh'), 'utf8');
    for (const j of jobs) assert.match(submit, new RegExp(`kubectl wait --for=condition=complete --timeout=24h job/${j.metadata.name}\\n`));
  });

  it('its containers, run in order as the Job controller would, write what a single run writes', async () => {
    for (const job of jobs) {
      const results = await Promise.all(Array.from({ length: job.spec.completions }, (_, i) => runContainer(job, i)));
      for (const r of results) assert.equal(r.code, 0, `${job.metadata.name}: ${r.stderr}`);
    }
    assert.deepEqual(differingFiles(single, { runDir: join(dir, 'runs'), outDir: join(dir, 'out') }), []);
  });
});
