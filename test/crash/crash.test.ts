import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrashTest } from './crash-harness.js';

// USERLM_CRASH_SEED replays a failing schedule; the soak (make soak) runs many more kills.
const seed = Number(process.env['USERLM_CRASH_SEED'] ?? 20251122);

describe('crash test: SIGKILL at random points of the sample run', () => {
  it('loses nothing, never reruns a finished stage, and ends in the bytes of an uninterrupted run', async () => {
    const r = await runCrashTest({ kills: 20, seed });
    console.log(`crash test: ${JSON.stringify(r)}`);
    assert.ok(r.kills >= 20);
    assert.ok(r.completions >= 1);
    assert.ok(r.midStage >= 5, `kills should land inside stages, not only between them: ${JSON.stringify(r)}`);
  });
});
