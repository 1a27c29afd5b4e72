import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MinHasher } from '../../src/stages/dedup/minhash-signature.js';
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
