import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TopPairs, type ScoredPair } from '../../src/stages/dedup/top-pairs.js';
import { propertyOptions } from '../helpers.js';

/** The reference: every distinct pair, sorted, cut at size. */
function reference(offers: [number, number, number][], size: number, high: boolean): ScoredPair[] {
  const first = new Map<string, ScoredPair>();
  for (const [i, j, s] of offers) {
    const p = i < j ? { a: i, b: j, similarity: s } : { a: j, b: i, similarity: s };
    if (!first.has(`${p.a},${p.b}`)) first.set(`${p.a},${p.b}`, p);
  }
  return [...first.values()].sort((x, y) => (high ? y.similarity - x.similarity : x.similarity - y.similarity) || x.a - y.a || x.b - y.b).slice(0, size);
}

describe('TopPairs (near misses and weakest merges)', () => {
  it('keeps exactly the best distinct pairs, in any order of offers, with ties broken by indices', () => {
    // Few indices and similarities, so that ties and repeated pairs are common; a pair's
    // similarity is a function of the pair, as near-dedup's is.
    const pair = fc.tuple(fc.nat(12), fc.nat(12));
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 120 }), fc.integer({ min: 1, max: 20 }), fc.boolean(), (pairs, size, high) => {
        const offers = pairs.map(([i, j]): [number, number, number] => [i, j, 0.8 + ((Math.min(i, j) * 7 + Math.max(i, j) * 3) % 7) / 60]);
        const t = new TopPairs(size, high);
        for (const [i, j, s] of offers) t.add(i, j, s);
        assert.deepEqual(t.sorted(), reference(offers, size, high));
      }),
      propertyOptions(300),
    );
  });

  it("bar() is the similarity of the worst pair kept once full, and a pair below it does not enter", () => {
    const t = new TopPairs(2, true);
    assert.equal(t.bar(), -Infinity);
    t.add(1, 2, 0.85);
    t.add(3, 4, 0.88);
    assert.equal(t.bar(), 0.85);
    t.add(5, 6, 0.84);
    assert.deepEqual(t.sorted().map((p) => p.similarity), [0.88, 0.85]);
    t.add(6, 5, 0.89);
    assert.equal(t.bar(), 0.88);
    assert.deepEqual(t.sorted(), [
      { a: 5, b: 6, similarity: 0.89 },
      { a: 3, b: 4, similarity: 0.88 },
    ]);
  });
});
