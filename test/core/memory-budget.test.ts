import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { MAIN_THREAD_RESERVE, WORKER_THREAD_RESERVE, memoryPlan, parseBytes } from '../../src/core/memory-budget.js';
import { Db } from '../../src/core/db.js';
import { openPipelineDb } from '../../src/core/runner.js';
import { resolveTokenizeWorkers } from '../../src/stages/tokenize/count-batches.js';
import { samplePipelineYaml, tempDir, writePipeline } from '../helpers.js';

const MIB = 2 ** 20;

describe('engine.memory_limit: one budget for DuckDB and the JavaScript side', () => {
  it('reads sizes in decimal and binary units', () => {
    assert.equal(parseBytes('4GiB'), 4 * 2 ** 30);
    assert.equal(parseBytes('512 MB'), 512e6);
    assert.equal(parseBytes('1.5KiB'), 1536);
    assert.throws(() => parseBytes('4 gallons'), /not a size/);
  });

  it('by default (4 GiB) sets aside the main thread and a worker per core, capped to half the budget, and gives DuckDB the rest', () => {
    const two = memoryPlan(undefined, undefined, 'p.yaml', 2);
    assert.equal(two.total, 4 * 2 ** 30);
    assert.equal(two.maxWorkers, 2);
    assert.equal(two.duckdb, two.total - MAIN_THREAD_RESERVE - 2 * WORKER_THREAD_RESERVE);
    const many = memoryPlan(undefined, undefined, 'p.yaml', 64);
    assert.equal(many.maxWorkers, Math.floor((2048 * MIB - MAIN_THREAD_RESERVE) / WORKER_THREAD_RESERVE));
    assert.ok(many.maxWorkers * WORKER_THREAD_RESERVE + MAIN_THREAD_RESERVE <= many.total / 2);
    // A larger budget lets more cores work.
    assert.equal(memoryPlan('16GiB', undefined, 'p.yaml', 64).maxWorkers, 23);
    // engine.threads wins when it asks for fewer.
    assert.equal(memoryPlan('16GiB', 3, 'p.yaml', 64).maxWorkers, 3);
  });

  it('caps the tokenize workers by the plan', () => {
    assert.equal(resolveTokenizeWorkers(8, 1e6, 4), 4);
    assert.equal(resolveTokenizeWorkers(8, 1e6, 2), 2);
    // One worker is no better than the main thread: none is started.
    assert.equal(resolveTokenizeWorkers(8, 1e6, 1), 0);
  });

  it('refuses a budget that cannot hold the main thread and DuckDB, naming the setting', () => {
    assert.throws(
      () => memoryPlan('600MiB', undefined, 'p.yaml', 2),
      (e: unknown) => e instanceof ConfigError && e.issues[0]!.path === 'engine.memory_limit' && e.issues[0]!.file === 'p.yaml' && /600MiB is below/.test(e.message),
    );
  });

  it('says, when DuckDB runs out of its share, which share of which budget, and what to raise', async () => {
    const db = await Db.open({ threads: 1, memoryLimit: '8MiB', budget: '4GiB' });
    try {
      await assert.rejects(
        db.run("CREATE TABLE big AS SELECT range AS i, repeat('x', 200) AS s FROM range(200000) ORDER BY s || i"),
        /DuckDB ran out of memory in its share \(8MiB\) of engine\.memory_limit 4GiB .*Raise engine\.memory_limit in the pipeline file/,
      );
    } finally {
      db.close();
    }
  });

  it('gives DuckDB its share as memory_limit', async () => {
    const dir = tempDir();
    try {
      const { pipeline } = writePipeline(dir, samplePipelineYaml(dir, 'engine:\n  memory_limit: 4GiB\n  threads: 2\n'));
      const db = await openPipelineDb(pipeline());
      try {
        const r = await db.one<{ v: string }>("SELECT current_setting('memory_limit') AS v");
        // 4096 - 768 - 2 x 320 = 2688 MiB, which DuckDB prints as 2.6 GiB.
        assert.equal(memoryPlan('4GiB', 2, 'p.yaml', 2).duckdb, 2688 * MIB);
        assert.equal(r.v, '2.6 GiB');
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
