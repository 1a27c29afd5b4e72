import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { StageError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { MARKER_FILE } from '../../src/core/marker.js';
import { runPipeline } from '../../src/core/runner.js';
import { DATA_FILE, DROPS_FILE, type StageSpec } from '../../src/core/stage.js';
import { samplePipelineYaml, tempDir, writePipeline } from '../helpers.js';

const seedStage: StageSpec = {
  name: 'seed',
  version: 1,
  options: () => null,
  async run({ db, dir }) {
    await db.run(`COPY (SELECT 'c' || i AS conversation_id FROM range(3) t(i)) TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet)`);
    return { conversationsIn: 3 };
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
      return {};
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
    assert.deepEqual(readdirSync(runDir).sort(), ['01-seed'], 'no stage directory, temp directory, scratch or lock left');
    assert.ok(existsSync(join(runDir, '01-seed', MARKER_FILE)));
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
