import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SpanCache } from '../../src/stages/tokenize/span-cache.js';

describe('SpanCache', () => {
  it('returns a span\'s own count or nothing, never another span\'s, through sweeps of a tiny table and pool', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ unit: fc.constantFrom('a', 'b', 'é', '中', '\ud83d', '\ude00'), maxLength: 6 }), fc.boolean()), { maxLength: 400 }), (ops) => {
        const cache = new SpanCache(8, 24);
        // The true count of a key: anything injective will do.
        const truth = (k: string) => k.length * 1000 + [...k].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 997, 7);
        let hits = 0;
        for (const [key, insert] of ops) {
          // The key sits inside a longer text, as a pre-token does.
          const text = `xx${key}yy`;
          const h = SpanCache.hash(text, 2, 2 + key.length);
          const got = cache.get(text, 2, 2 + key.length, h);
          if (got !== -1) {
            assert.equal(got, truth(key), JSON.stringify(key));
            hits++;
          } else if (insert) cache.set(text, 2, 2 + key.length, h, truth(key));
        }
        return hits >= 0;
      }),
      { numRuns: 300, seed: 3 },
    );
  });

  it('keeps the entries hit since the last sweep and lets the others go', () => {
    const cache = new SpanCache(4, 1000);
    const put = (k: string) => cache.set(k, 0, k.length, SpanCache.hash(k, 0, k.length), k.length);
    const has = (k: string) => cache.get(k, 0, k.length, SpanCache.hash(k, 0, k.length)) !== -1;
    for (const k of ['hot', 'cold1', 'cold2', 'cold3']) put(k);
    assert.ok(has('hot'));
    put('new'); // the table is full: a sweep keeps 'hot' only
    assert.ok(has('hot'));
    assert.ok(has('new'));
    assert.ok(!has('cold1') && !has('cold2') && !has('cold3'));
  });
});
