import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { StageError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { MARKER_FILE } from '../../src/core/marker.js';
import { resultOf, runPipeline } from '../../src/core/runner.js';
import { DATA_FILE, DROPS_FILE, defineStage, type StageSpec } from '../../src/core/stage.js';
import { samplePipelineYaml, tempDir, writePipeline } from '../helpers.js';

const seedStage: StageSpec = {
  name: 'seed',
  version: 1,
  options: () => null,
  async run({ db, dir }) {
    await db.run(`COPY (SELECT 'c' || i AS conversation_id FROM range(3) t(i)) TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet)`);
    return { conversationsIn: 3, notes: {} };
  },
};

/** Passes on all but c2; records the drop only when honest. */
function dropping(honest: boolean): StageSpec {
  return {
    name: honest ? 'honest' : 'leaky',
    version: 1,
    options: () => null,
    async run({ db, dir, input }) {
      await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(input!)}) WHERE conversation_id <> 'c2') TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet)`);
      if (honest) await db.run(`COPY (SELECT 'c2' AS conversation_id, 'test_reason' AS reason) TO ${sqlString(join(dir, DROPS_FILE))} (FORMAT parquet)`);
      return { notes: {} };
    },
  };
}

describe('the accounting check', () => {
  it('stops the run when a stage loses a conversation without a drop reason, and leaves no marker', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    const runDir = join(dir, 'runs');
    await assert.rejects(runPipeline(pipeline(), [seedStage, dropping(false)], { log: silentLogger }), (e: Error) => {
      assert.ok(e instanceof StageError, String(e));
      assert.equal(
        e.message,
        'accounting broken in stage leaky: 3 conversations in, 2 out, 0 dropped (1 unaccounted). This is a bug in userlm-data; please report it with the pipeline file.',
      );
      return true;
    });
    assert.deepEqual(readdirSync(runDir).sort(), ['seed'], 'no stage directory, temp directory, scratch or lock left');
    assert.ok(existsSync(join(runDir, 'seed', MARKER_FILE)));
  });

  it('passes the same stage when it records the drop, and counts it in the marker', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    const r = await runPipeline(pipeline(), [seedStage, dropping(true)], { log: silentLogger });
    assert.deepEqual(r.executed, ['seed', 'honest']);
    assert.equal(r.markers[1]!.conversations_in, 3);
    assert.equal(r.markers[1]!.conversations_out, 2);
    assert.deepEqual(r.markers[1]!.drops, { test_reason: 1 });
  });
});

/** A stage with typed notes and a published file, and one that declares it in `needs`. */
const counting = defineStage({
  name: 'counting',
  version: 1,
  options: () => null,
  async run({ db, dir, input }) {
    await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(input!)})) TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet)`);
    await db.run(`COPY (SELECT 42 AS answer) TO ${sqlString(join(dir, 'extra.parquet'))} (FORMAT parquet)`);
    return { notes: { seen: 3, label: 'three' }, publish: { extra: 'extra.parquet' } };
  },
});

function reader(seen: unknown[]) {
  return defineStage({
    name: 'reader',
    version: 1,
    needs: { counted: counting },
    options: () => null,
    async run({ db, dir, input, needs, earlier }) {
      // Typed: needs.counted.notes.seen is a number, needs.counted.files.extra a path.
      const n: number = needs.counted.notes.seen;
      const extra = await db.one<{ answer: number }>(`SELECT answer FROM read_parquet(${sqlString(needs.counted.files.extra)})`);
      seen.push({ n, label: needs.counted.notes.label, answer: Number(extra.answer), earlier: earlier.map((e) => e.stage) });
      await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(input!)})) TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet)`);
      return { notes: {} };
    },
  });
}

describe('typed stage results', () => {
  it('hands a declared stage its typed result, whether the stage ran now or was skipped', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    const seen: unknown[] = [];
    const first = await runPipeline(pipeline(), [seedStage, counting, reader(seen)], { log: silentLogger });
    assert.deepEqual(first.executed, ['seed', 'counting', 'reader']);
    assert.deepEqual(resultOf(first, counting).notes, { seen: 3, label: 'three' });
    // Only the reader reruns: counting's result now comes from its marker.
    rmSync(join(dir, 'runs', 'reader'), { recursive: true });
    const again = await runPipeline(pipeline(), [seedStage, counting, reader(seen)], { log: silentLogger });
    assert.deepEqual(again.executed, ['reader']);
    const expected = { n: 3, label: 'three', answer: 42, earlier: ['seed', 'counting'] };
    assert.deepEqual(seen, [expected, expected]);
    assert.deepEqual(readdirSync(join(dir, 'runs')).sort(), ['counting', 'reader', 'seed'], 'directories named by stage alone');
  });

  it('refuses a stage that needs one that does not run before it', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    await assert.rejects(runPipeline(pipeline(), [seedStage, reader([])], { log: silentLogger }), /stage reader needs stage counting, which does not run before it/);
  });

  it('adds a stage between two others without touching their directories', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
    await runPipeline(pipeline(), [seedStage, dropping(true)], { log: silentLogger });
    const r = await runPipeline(pipeline(), [seedStage, counting, dropping(true)], { log: silentLogger });
    // seed is untouched; counting is new, and honest reruns because its input changed.
    assert.deepEqual(r.skipped, ['seed']);
    assert.deepEqual(r.executed, ['counting', 'honest']);
  });
});
