import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { candidateProbability, chooseBands } from '../../src/stages/dedup/lsh-params.js';
import { lshClusters } from '../../src/stages/dedup/lsh-clusters.js';
import { estimateJaccard, exactJaccard, MinHasher, type MinhashMethod } from '../../src/stages/dedup/minhash-signature.js';
import { radixSortByKey, radixSortValues } from '../../src/stages/dedup/radix-sort.js';
import { shingleHashes } from '../../src/stages/dedup/shingle-hashes.js';
import { sketchDocuments } from '../../src/stages/dedup/sketch-documents.js';
import { templatedDocuments } from '../../src/stages/dedup/template-filter.js';
import { wordHashes } from '../../src/stages/dedup/word-hashes.js';

/** A deterministic vocabulary walk: text i of length len. */
function text(seed: number, len: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < len; i++) {
    // An avalanche of (seed, i): texts of different seeds share words only by chance.
    let x = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d);
    x = Math.imul(x ^ (x >>> 12), 0x297a2d39);
    x = (x ^ (x >>> 15)) >>> 0;
    // Letters only: normalization reads every digit as 0.
    out.push((x % 50000).toString(26).replace(/[0-9]/g, (d) => 'qrstuvwxyz'[Number(d)]!));
  }
  return out;
}

const shingles = (words: string[], n = 3) => shingleHashes(wordHashes(words.join(' ')), n).slice();

describe('word normalization', () => {
  it('folds case, diacritics, digits and punctuation', () => {
    assert.deepEqual([...wordHashes('Café, NAÏVE résumé 123!')], [...wordHashes('cafe naive   RESUME 999')]);
    assert.notDeepEqual([...wordHashes('cafe naive')], [...wordHashes('cafe native')]);
    assert.equal(wordHashes(' \u00a0\u200b ...').length, 0);
    assert.equal(wordHashes('hello\u3000世界').length, 2);
  });
});

describe('MinHash', () => {
  for (const method of ['oph', 'kperm'] as MinhashMethod[]) {
    it(`${method}: estimates Jaccard within 0.08 of the exact value over planted pairs`, () => {
      const K = 256;
      const hasher = new MinHasher({ numPerm: K, seed: 42, method });
      const pairs: [string[], string[]][] = [];
      for (let p = 0; p < 30; p++) {
        const a = text(p + 1, 200);
        const b = a.slice();
        // Replace a growing share of words: Jaccard from ~1 down to ~0.2.
        const edits = Math.floor((p / 30) * 150);
        for (let e = 0; e < edits; e++) b[(e * 7919) % b.length] = `edit${'abcdefghijklmnopqrstuvwxyz'[p % 26]}${'abcdefghijklmnopqrstuvwxyz'[e % 26]}${'abcdefghijklmnopqrstuvwxyz'[Math.floor(e / 26) % 26]}`;
        pairs.push([a, b]);
      }
      let worst = 0;
      const sig = new Uint32Array(2 * K);
      for (const [a, b] of pairs) {
        const sa = shingles(a);
        const sb = shingles(b);
        hasher.sign(sa, sig, 0);
        hasher.sign(sb, sig, K);
        worst = Math.max(worst, Math.abs(estimateJaccard(sig, 0, 1, K) - exactJaccard(sa, sb)));
      }
      assert.ok(worst < 0.08, `worst error ${worst}`);
    });

    it(`${method}: equal sets give equal signatures, disjoint sets nearly none in common`, () => {
      const K = 128;
      const h = new MinHasher({ numPerm: K, seed: 7, method });
      const sig = new Uint32Array(3 * K);
      h.sign(shingles(text(1, 50)), sig, 0);
      h.sign(shingles(text(1, 50)).reverse(), sig, K);
      h.sign(shingles(text(1, 50).map((w) => `other-${w}`)), sig, 2 * K);
      assert.equal(estimateJaccard(sig, 0, 1, K), 1);
      assert.ok(estimateJaccard(sig, 0, 2, K) < 0.05);
      assert.equal(h.sign(new Uint32Array(0), sig, 0), false);
    });
  }
});

describe('LSH banding', () => {
  it('chooses bands whose S-curve crosses near the threshold', () => {
    const { bands, rows } = chooseBands(128, 0.7);
    assert.ok(bands * rows <= 128);
    assert.ok(candidateProbability(0.5, bands, rows) < 0.2);
    assert.ok(candidateProbability(0.9, bands, rows) > 0.95);
  });

  it('clusters planted duplicates transitively with the earliest as keeper, and nothing else', () => {
    const K = 128;
    const h = new MinHasher({ numPerm: K, seed: 1, method: 'oph' });
    const docs: string[][] = [];
    for (let i = 0; i < 200; i++) docs.push(text(i + 100, 60));
    // 10 -> 150 -> 199: a chain of small edits; 20 -> 30: one edit.
    const edit = (w: string[], k: number) => w.map((x, j) => (j % 59 === k * 8 ? `edit${'abcdefgh'[k]}` : x));
    docs[150] = edit(docs[10]!, 3);
    docs[199] = edit(docs[150]!, 5);
    docs[30] = edit(docs[20]!, 7);
    const sig = new Uint32Array(docs.length * K);
    docs.forEach((d, i) => h.sign(shingles(d, 5), sig, i * K));
    const r = lshClusters(sig, docs.length, { numPerm: K, bands: 16, rows: 8, threshold: 0.7, verify: true });
    const clusters = new Map<number, number[]>();
    for (let i = 0; i < docs.length; i++) clusters.set(r.root[i]!, [...(clusters.get(r.root[i]!) ?? []), i]);
    const multi = [...clusters.values()].filter((c) => c.length > 1);
    assert.deepEqual(multi, [[10, 150, 199], [20, 30]]);
    assert.equal(r.size[199], 3);
    assert.ok(r.similarity[30]! > 0.7 && r.similarity[30]! < 1);
    const ineligible = new Uint8Array(docs.length).fill(1);
    ineligible[30] = 0;
    const r2 = lshClusters(sig, docs.length, { numPerm: K, bands: 16, rows: 8, threshold: 0.7, verify: true, eligible: ineligible });
    assert.equal(r2.root[30], 30);
  });

  it('radix-sorts indices by key, stably', () => {
    const keys = Uint32Array.from([5, 0xffffffff, 5, 0, 70000, 3]);
    const idx = Uint32Array.from([0, 1, 2, 3, 4, 5]);
    radixSortByKey(keys, idx, 6);
    assert.deepEqual([...idx], [3, 5, 0, 2, 4, 1]);
    const values = Uint32Array.from({ length: 5000 }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) >>> 0) % (i % 3 ? 4294967295 : 70000));
    assert.deepEqual(radixSortValues(values), values.slice().sort());
  });
});

describe('templated prompts', () => {
  it('flags documents sharing an n-gram with more than N others', () => {
    const n = 5;
    const templates = Uint32Array.from([1, 2, 1, 3, 1, 4, 1, 9, 8]);
    const offsets = Uint32Array.from([0, 2, 4, 6, 8, 9]);
    // hash 1 is in documents 0..3: 3 others each.
    assert.deepEqual([...templatedDocuments(templates, offsets, n, 2).templated], [1, 1, 1, 1, 0]);
    assert.deepEqual([...templatedDocuments(templates, offsets, n, 3).templated], [0, 0, 0, 0, 0]);
  });
});

describe('sketching in worker threads', () => {
  it('gives identical output for 0, 1 and 2 workers and any batch size', async () => {
    const texts = Array.from({ length: 3000 }, (_, i) => text(i % 700, 5 + (i % 40)).join(' '));
    const o = { ngram: 5, numPerm: 64, seed: 3, method: 'oph' as const, templateNgram: 7, templateMaxPerDoc: 64, bands: 10, rows: 6 };
    async function* batches(size: number) {
      for (let i = 0; i < texts.length; i += size) yield { texts: texts.slice(i, i + size) };
    }
    const a = await sketchDocuments(batches(1000), texts.length, o, 0);
    const b = await sketchDocuments(batches(257), texts.length, o, 1);
    const c = await sketchDocuments(batches(128), texts.length, o, 2);
    // Band keys from the workers cluster exactly as keys computed from the signatures.
    const shape = { numPerm: 64, bands: 10, rows: 6, threshold: 0.6, verify: true };
    const own = lshClusters(a.signatures, texts.length, shape);
    const pre = lshClusters(a.signatures, texts.length, { ...shape, bandKeys: c.bandKeys });
    assert.deepEqual(pre.root, own.root);
    assert.ok(own.mergedPairs > 0, 'the texts repeat, so clusters form');
    for (const x of [b, c]) {
      assert.deepEqual(x.bandKeys, a.bandKeys);
      assert.deepEqual(x.signatures, a.signatures);
      assert.deepEqual(x.words, a.words);
      assert.deepEqual(x.templates, a.templates);
      assert.deepEqual(x.templateOffsets, a.templateOffsets);
    }
  });
});
