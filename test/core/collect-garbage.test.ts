import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectGarbage } from '../../src/core/collect-garbage.js';

describe('collectGarbage', () => {
  it('frees typed arrays let go of, without node --expose-gc', async () => {
    assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'the test must run without --expose-gc');
    let big: Uint32Array | null = new Uint32Array(64 * 2 ** 20).fill(1); // 256 MiB outside the heap
    const held = process.memoryUsage().arrayBuffers;
    assert.ok(held >= 256 * 2 ** 20, `${held}`);
    assert.equal(big[12345], 1);
    big = null;
    collectGarbage();
    // V8 releases the backing stores of collected buffers on a background thread after the
    // collection (late on a loaded machine): wait for it, never for a collection of its own.
    let after = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 40 && after >= held - 200 * 2 ** 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = process.memoryUsage().arrayBuffers;
    }
    assert.ok(after < held - 200 * 2 ** 20, `array buffers: ${held} before, ${after} after`);
    collectGarbage(); // a second call reuses the exposed function
  });
});
