import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCrashTest } from './crash-harness.js';

// make soak: USERLM_SOAK_KILLS (default 200) kills, seed USERLM_CRASH_SEED (default: the clock, printed).
const kills = Number(process.env['USERLM_SOAK_KILLS'] ?? 200);
const seed = Number(process.env['USERLM_CRASH_SEED'] ?? Date.now() % 2 ** 31);

describe('crash soak', () => {
  it(`survives ${kills} SIGKILLs (seed ${seed})`, { timeout: 4 * 3_600_000 }, async () => {
    // Three episodes of each kind at least; episode kinds, user files and endpoint faults are seeded.
    const r = await runCrashTest({ kills, seed, minEpisodes: 3 });
    console.log(`crash soak: ${JSON.stringify(r)}`);
    assert.ok(r.kills >= kills);
    for (const k of ['plain', 'foreign', 'llm'] as const) assert.ok(r.episodes[k] >= 3, JSON.stringify(r.episodes));
  });
});
