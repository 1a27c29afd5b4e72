import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, runCli, samplePipelineYaml, tempDir } from '../helpers.js';

const noTrace = /\n\s+at |This is a bug|Maximum call stack/;

describe('errors that used to mislead or crash', () => {
  it('train usage errors exit 2', () => {
    const r = runCli(['train', tempDir(), '--trainer', 'trl', '--gpus', '0', '--dry-run']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--gpus must be a whole number >= 1 \(got 0\)/);
    assert.equal(runCli(['train', tempDir(), '--trainer', 'trl', '--nodes', 'two', '--dry-run']).status, 2);
  });

  it('a low open-file limit is said plainly (exit 4), not an EMFILE stack trace', () => {
    const r = spawnSync('sh', ['-c', `ulimit -n 80 && exec '${process.execPath}' '${CLI}' --version`], { encoding: 'utf8' });
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, /^error: too many open files \(EMFILE.*\)\. The open-file limit of this shell is too low \(`ulimit -n`\); raise it/);
    assert.doesNotMatch(r.stderr, noTrace);
  });

  it('a memory_limit too small for a run names engine.memory_limit, not the Parquet file', () => {
    const dir = tempDir();
    const file = join(dir, 'p.yaml');
    writeFileSync(file, samplePipelineYaml(dir, 'engine: { memory_limit: 10MB }\n'));
    const r = runCli(['run', file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /engine\.memory_limit: 10MB is below the least a run needs \(1024 MiB/);
    assert.doesNotMatch(r.stderr, /wildchat-sample\.parquet|damaged/);
    assert.doesNotMatch(r.stderr, noTrace);
  });

  it('validate refuses a max_rows_per_shard that the shards stage could not use', () => {
    const dir = tempDir();
    const file = join(dir, 'p.yaml');
    writeFileSync(file, samplePipelineYaml(dir, 'stages:\n  shards: { max_rows_per_shard: 1e21, row_group_rows: 1e30 }\n'));
    const r = runCli(['validate', file]);
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /stages\.shards\.max_rows_per_shard: must be <= 2147483647 \(got number 1e\+21\)/);
    assert.match(r.stderr, /stages\.shards\.row_group_rows: must be <= 2147483647/);
  });
});
