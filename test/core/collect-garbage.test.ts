import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectGarbage } from '../../src/core/collect-garbage.js';

describe('collectGarbage', () => {
  it('frees typed arrays let go of at once, without node --expose-gc', () => {
    assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'the test must run without --expose-gc');
    let big: Uint32Array | null = new Uint32Array(64 * 2 ** 20).fill(1); // 256 MiB outside the heap
    const held = process.memoryUsage().arrayBuffers;
    assert.ok(held >= 256 * 2 ** 20, `${held}`);
    assert.equal(big[12345], 1);
    big = null;
    collectGarbage();
    const after = process.memoryUsage().arrayBuffers;
    assert.ok(after < held - 200 * 2 ** 20, `array buffers: ${held} before, ${after} after`);
    collectGarbage(); // a second call reuses the exposed function
  });
});
