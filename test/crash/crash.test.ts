import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrashTest } from './crash-harness.js';

// USERLM_CRASH_SEED replays a failing schedule; the soak (make soak) runs many more kills.
const seed = Number(process.env['USERLM_CRASH_SEED'] ?? 20251122);

describe('crash test: SIGKILL at random points of the sample run', () => {
  it('loses nothing, never reruns a finished stage, and ends in the bytes of an uninterrupted run; a user file put into out_dir survives; a broken endpoint replaces nothing', { timeout: 900_000 }, async () => {
    // One episode of each kind at least; the first llm runs meet a nonsense-answering and a
    // 500-answering endpoint, and one foreign run gets a user file mid-export, whatever the timing.
    const r = await runCrashTest({ kills: 12, seed, minEpisodes: 1, forcedFaults: ['nonsense200', 'http500'], forceMidExportDrop: true, minMidStage: 2 });
    console.log(`crash test: ${JSON.stringify(r)}`);
    assert.ok(r.kills >= 12);
    assert.ok(r.completions >= 3);
    // Kill times are drawn over the measured length of a run; on the sample most of a run is
    // process start-up and export, so the first plain runs are killed just after a stage starts.
    assert.ok(r.midStage >= 2, `kills should land inside stages, not only between them: ${JSON.stringify(r)}`);
    for (const k of ['plain', 'foreign', 'llm'] as const) assert.ok(r.episodes[k] >= 1, `no ${k} episode: ${JSON.stringify(r.episodes)}`);
    assert.ok(r.foreign.droppedMidExport >= 1, JSON.stringify(r.foreign));
    assert.ok(r.llm.nonsense200.exit5 >= 1 && r.llm.http500.exit5 >= 1, JSON.stringify(r.llm));
  });
});
