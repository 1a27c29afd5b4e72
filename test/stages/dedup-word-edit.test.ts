import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { candidateProbability } from '../../src/stages/dedup/lsh-params.js';
import { candidateJaccard, nearLshShape } from '../../src/stages/dedup/near-dedup.js';
import { wordEditSimilarity } from '../../src/stages/dedup/word-edit-similarity.js';
import { wordHashes } from '../../src/stages/dedup/word-hashes.js';

const w = (s: string) => wordHashes(s).slice();

/** Plain O(n m) Levenshtein over arrays: the reference the banded version must equal. */
function levenshtein(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** wordEditSimilarity's contract against plain Levenshtein: exact at or above the floor, an upper bound below it otherwise. */
function assertContract(a: number[], b: number[], floor: number): number {
  const m = Math.max(a.length, b.length);
  const truth = m === 0 ? 1 : 1 - levenshtein(a, b) / m;
  const got = wordEditSimilarity(Uint32Array.from(a), Uint32Array.from(b), floor);
  if (truth >= floor) assert.equal(got, truth);
  else {
    assert.ok(got < floor, `${got} < ${floor}`);
    assert.ok(got >= truth, `${got} is an upper bound of ${truth}`);
  }
  return got;
}

describe('word edit similarity', () => {
  it('adapts to length: one word in a 6-word prompt is another request, in a 60-word one the same', () => {
    const six = 'act as my spanish tutor please';
    assert.equal(wordEditSimilarity(w(six), w('act as my chemistry tutor please'), 0.8), 1 - 1 / 6);
    const sixty = Array.from({ length: 60 }, (_, i) => `word${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`).join(' ');
    const edited = sixty.replace('wordca', 'banana');
    assert.notEqual(edited, sixty);
    assert.equal(wordEditSimilarity(w(sixty), w(edited), 0.8), 1 - 1 / 60);
    assert.ok(wordEditSimilarity(w(sixty), w(edited), 0.8) >= 0.9);
    assert.ok(wordEditSimilarity(w(six), w('act as my chemistry tutor please'), 0.8) < 0.9);
  });

  it('sees case, punctuation and digits as no change, and two empty texts as equal', () => {
    assert.equal(wordEditSimilarity(w('Hello, World!'), w('hello world'), 0.9), 1);
    assert.equal(wordEditSimilarity(w('room 12'), w('room 34'), 0.9), 1);
    assert.equal(wordEditSimilarity(w(''), w(''), 0.9), 1);
    assert.equal(wordEditSimilarity(w('hi'), w(''), 0.9), 0);
  });

  it('equals plain Levenshtein above the floor, and stays below the floor otherwise', () => {
    const seq = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 40 });
    fc.assert(
      fc.property(seq, seq, fc.double({ min: 0.3, max: 0.99, noNaN: true }), (a, b, floor) => {
        const got = assertContract(a, b, floor);
        assert.equal(wordEditSimilarity(Uint32Array.from(b), Uint32Array.from(a), floor), got);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps that contract on long texts, where a word-count bound may decide before the band (pastes)', () => {
    // 150-300 words: the band is past BAG_FIRST_CELLS, so the multiset bound runs first. The
    // second text is the first edited, shuffled in blocks, or both, so either path decides.
    const long = fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 150, maxLength: 300 });
    const edit = fc.record({ swaps: fc.nat(4), subs: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 80 })), { maxLength: 40 }), cut: fc.nat(30) });
    fc.assert(
      fc.property(long, edit, fc.double({ min: 0.5, max: 0.95, noNaN: true }), (a, e, floor) => {
        const b = a.slice(0, a.length - e.cut);
        for (const [at, w] of e.subs) b[at % b.length] = w;
        for (let i = 0; i < e.swaps; i++) {
          const p = (i * 7919) % (b.length - 10);
          const block = b.splice(p, 5);
          b.splice((p * 31) % (b.length - 1), 0, ...block);
        }
        assertContract(a, b, floor);
      }),
      { numRuns: 300, seed: 12 },
    );
  });

  it('keeps that contract when two long texts share their words but not their order (the 2-gram bound)', () => {
    // The same multiset of words, reordered in runs, plus a few substitutions: the word-count
    // bound cannot tell them apart, the word 2-gram bound can (and must never claim more
    // edits than Levenshtein finds: substitutions change 2 two-grams each, which the test's
    // low-edit cases exercise).
    const long = fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 120, maxLength: 260 });
    const change = fc.record({ runs: fc.integer({ min: 0, max: 12 }), subs: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 50 })), { maxLength: 12 }) });
    fc.assert(
      fc.property(long, change, fc.double({ min: 0.5, max: 0.95, noNaN: true }), (a, c, floor) => {
        const b = a.slice();
        // Reverse `runs` runs of 9 words: same words, other order.
        for (let r = 0; r < c.runs; r++) {
          const at = (r * 37) % (b.length - 9);
          b.splice(at, 9, ...b.slice(at, at + 9).reverse());
        }
        for (const [at, w] of c.subs) b[at % b.length] = w;
        assertContract(a, b, floor);
      }),
      { numRuns: 400, seed: 7 },
    );
    // A shuffled long text: rejected, and with a value below the floor.
    const text = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 500);
    const shuffled = text.map((_, i) => text[(i * 1201) % text.length]!);
    assert.ok(wordEditSimilarity(Uint32Array.from(text), Uint32Array.from(shuffled), 0.8) < 0.8);
  });

  it('asks LSH for the word-set Jaccard that k substitutions in L words leave', () => {
    // 2 substitutions in 20 distinct words: similarity 0.9, Jaccard 18/22.
    assert.equal(candidateJaccard(0.9), 0.9 / 1.1);
    assert.ok(Math.abs(candidateJaccard(0.9) - 18 / 22) < 1e-12);
  });

  it('shapes LSH so that a pair the threshold merges is almost never lost, and honours a given shape', () => {
    const shape = nearLshShape({ num_perm: 128, threshold: 0.9, bands: null, rows: null });
    assert.deepEqual(shape, { bands: 25, rows: 5 });
    assert.ok(candidateProbability(0.77, shape.bands, shape.rows) >= 0.999);
    assert.deepEqual(nearLshShape({ num_perm: 128, threshold: 0.9, bands: 4, rows: 8 }), { bands: 4, rows: 8 });
  });
});
