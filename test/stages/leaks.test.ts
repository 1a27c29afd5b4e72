import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachBucket } from '../../src/stages/dedup/lsh-clusters.js';
import { estimateJaccard, MinHasher } from '../../src/stages/dedup/minhash-signature.js';
import { shingleHashes } from '../../src/stages/dedup/shingle-hashes.js';
import { wordHashes } from '../../src/stages/dedup/word-hashes.js';
import { crossSplitLeaks } from '../../src/stages/split/cross-split-leaks.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const word = (i: number) => LETTERS[i % 26]! + LETTERS[Math.floor(i / 26) % 26]! + LETTERS[Math.floor(i / 676) % 26]!;

describe('cross-split leak check', () => {
  it('matches a held-out document to its training near-duplicate only, never train to train or held-out to held-out', () => {
    const K = 128;
    const docs = Array.from({ length: 6 }, (_, d) => Array.from({ length: 40 }, (_, i) => word(d * 1000 + i)));
    docs[3] = docs[0]!.map((w, i) => (i === 20 ? 'changed' : w)); // held-out copy of train doc 0
    docs[4] = docs[1]!.slice(); // train copy of train doc 1: not a leak
    docs[5] = docs[2]!.map((w, i) => (i === 5 ? 'other' : w)); // held-out copy of held-out doc 2: not a leak
    const isTrain = Uint8Array.from([1, 1, 0, 0, 1, 0]);
    const h = new MinHasher({ numPerm: K, seed: 9, method: 'oph' });
    const sig = new Uint32Array(docs.length * K);
    docs.forEach((d, i) => h.sign(shingleHashes(wordHashes(d.join(' ')), 5), sig, i * K));
    const { match, similarity } = crossSplitLeaks(sig, docs.length, isTrain, { numPerm: K, bands: 20, rows: 6, threshold: 0.5 });
    assert.deepEqual([...match], [-1, -1, -1, 0, -1, -1]);
    assert.ok(similarity[3]! > 0.6 && similarity[3]! < 1);
  });
});

/** The leak check as it ran before HeldOutIndex (all signatures at once, bucket by bucket): the oracle. */
function leaksByBuckets(sig: Uint32Array, n: number, isTrain: Uint8Array, o: { numPerm: number; bands: number; rows: number; threshold: number; eligible?: Uint8Array }) {
  const match = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n);
  const train: number[] = [];
  forEachBucket(sig, n, o, (order, start, end) => {
    train.length = 0;
    let held = 0;
    for (let k = start; k < end; k++) {
      const d = order[k]!;
      if (isTrain[d]) {
        if (train.length < 64) train.push(d);
      } else held++;
    }
    if (train.length === 0 || held === 0) return;
    for (let k = start; k < end; k++) {
      const d = order[k]!;
      if (isTrain[d]) continue;
      for (const t of train) {
        const s = estimateJaccard(sig, d, t, o.numPerm);
        if (s >= o.threshold && (s > similarity[d]! || (s === similarity[d]! && t < match[d]!))) {
          similarity[d] = s;
          match[d] = t;
        }
      }
    }
  });
  return { match, similarity };
}

describe('held-out index', () => {
  it('finds what comparing every bucket at once finds: same matches, ties and per-bucket cap, ineligible documents left out', () => {
    const K = 128;
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const base = Array.from({ length: 40 }, (_, d) => Array.from({ length: 12 + (d % 20) }, (_, i) => word(d * 500 + i)));
    const docs: string[][] = [];
    for (let i = 0; i < 3000; i++) {
      // Mostly edited copies of a few bases (big buckets, more than 64 training members), some unrelated.
      const b = base[Math.floor(rnd() * (rnd() < 0.5 ? 3 : base.length))]!;
      docs.push(rnd() < 0.1 ? Array.from({ length: 15 }, () => word(Math.floor(rnd() * 17000))) : b.map((w) => (rnd() < 0.15 ? word(Math.floor(rnd() * 17000)) : w)));
    }
    const n = docs.length;
    const isTrain = Uint8Array.from(docs, () => (rnd() < 0.85 ? 1 : 0));
    const eligible = Uint8Array.from(docs, (_, i) => (i % 37 === 0 ? 0 : 1));
    const h = new MinHasher({ numPerm: K, seed: 3, method: 'oph' });
    const sig = new Uint32Array(n * K);
    docs.forEach((d, i) => h.sign(shingleHashes(wordHashes(d.join(' ')), 3), sig, i * K));
    const o = { numPerm: K, bands: 30, rows: 4, threshold: 0.5, eligible };
    const want = leaksByBuckets(sig, n, isTrain, o);
    const got = crossSplitLeaks(sig, n, isTrain, o);
    const matched = [...want.match].filter((m) => m >= 0).length;
    assert.ok(matched > 100, `the corpus should leak (${matched})`);
    assert.deepEqual([...got.match], [...want.match]);
    assert.deepEqual([...got.similarity], [...want.similarity]);
  });
});
