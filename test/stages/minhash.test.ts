import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { candidateProbability, chooseBands } from '../../src/stages/dedup/lsh-params.js';
import { lshClusters } from '../../src/stages/dedup/lsh-clusters.js';
import { estimateJaccard, exactJaccard, MinHasher, type MinhashMethod } from '../../src/stages/dedup/minhash-signature.js';
import { radixSortByKey } from '../../src/stages/dedup/radix-sort.js';
import { Runs } from '../../src/stages/dedup/runs.js';
import { shingleHashes } from '../../src/stages/dedup/shingle-hashes.js';
import { sketchDocuments } from '../../src/stages/dedup/sketch-documents.js';
import { templatedDocuments, valuesOccurringAtLeast } from '../../src/stages/dedup/template-filter.js';
import { wordHashes } from '../../src/stages/dedup/word-hashes.js';
import { propertyOptions } from '../helpers.js';

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
    assert.equal(wordHashes('hello\u3000世界').length, 3);
    // Unspaced scripts: one word per character, so an edit changes one word, not the text.
    assert.equal(wordHashes('重新写，人物最好三个以内').length, 11);
    assert.deepEqual([...wordHashes('继续写')].slice(0, 2), [...wordHashes('继续')]);
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
    const r = lshClusters(sig, docs.length, { numPerm: K, bands: 16, rows: 8, threshold: 0.7, verify: true, linkage: 'single' });
    const clusters = new Map<number, number[]>();
    for (let i = 0; i < docs.length; i++) clusters.set(r.root[i]!, [...(clusters.get(r.root[i]!) ?? []), i]);
    const multi = [...clusters.values()].filter((c) => c.length > 1);
    assert.deepEqual(multi, [[10, 150, 199], [20, 30]]);
    assert.equal(r.size[199], 3);
    assert.ok(r.similarity[30]! > 0.7 && r.similarity[30]! < 1);
    const ineligible = new Uint8Array(docs.length).fill(1);
    ineligible[30] = 0;
    const r2 = lshClusters(sig, docs.length, { numPerm: K, bands: 16, rows: 8, threshold: 0.7, verify: true, linkage: 'single', eligible: ineligible });
    assert.equal(r2.root[30], 30);
  });

  it('with keeper linkage, drops a document only for a keeper it is itself similar to: a chain of edits splits', () => {
    const K = 128;
    const h = new MinHasher({ numPerm: K, seed: 1, method: 'oph' });
    const docs: string[][] = [];
    for (let i = 0; i < 60; i++) docs.push(text(i + 500, 100));
    // 5 -> 40 -> 55: eight words substituted at each step, each step similar, the ends not.
    const sub = (w: string[], from: number) => w.map((x, j) => (j >= from && j < from + 8 ? `swap${'abcdefghijklmnop'[j - from]}${from}` : x));
    docs[40] = sub(docs[5]!, 0);
    docs[55] = sub(docs[40]!, 50);
    const sig = new Uint32Array(docs.length * K);
    docs.forEach((d, i) => h.sign(shingles(d, 1), sig, i * K));
    const ab = estimateJaccard(sig, 5, 40, K);
    const bc = estimateJaccard(sig, 40, 55, K);
    const ac = estimateJaccard(sig, 5, 55, K);
    // A threshold between the steps and the ends, whatever the estimates' noise.
    assert.ok(ac < Math.min(ab, bc), `ends ${ac} less similar than steps ${ab}, ${bc}`);
    const threshold = (ac + Math.min(ab, bc)) / 2;
    const shape = { numPerm: K, bands: 32, rows: 2, threshold, verify: true, pairsToReport: 5 };
    const single = lshClusters(sig, docs.length, { ...shape, linkage: 'single' });
    assert.deepEqual([single.root[40], single.root[55]], [5, 5]);
    const keeper = lshClusters(sig, docs.length, shape);
    assert.deepEqual([keeper.root[5], keeper.root[40], keeper.root[55]], [5, 5, 55]);
    assert.equal(keeper.size[5], 2);
    assert.equal(keeper.size[55], 1);
    for (let i = 0; i < docs.length; i++) if (keeper.root[i] !== i) assert.ok(estimateJaccard(sig, i, keeper.root[i]!, K) >= threshold);
    // The split-off end is the nearest miss; the one merge left is the weakest.
    assert.deepEqual([keeper.nearMisses[0]!.a, keeper.nearMisses[0]!.b], [5, 55]);
    assert.deepEqual(keeper.weakestMerges.map((p) => [p.a, p.b]), [[5, 40]]);
  });

  it('radix-sorts indices by key, stably', () => {
    const keys = Uint32Array.from([5, 0xffffffff, 5, 0, 70000, 3]);
    const idx = Uint32Array.from([0, 1, 2, 3, 4, 5]);
    radixSortByKey(keys, idx, 6);
    assert.deepEqual([...idx], [3, 5, 0, 2, 4, 1]);
  });
});

describe('templated prompts', () => {
  // Template n-gram hashes of texts as the sketch step lays them out (text order).
  const layout = (docs: string[], n: number) => {
    const parts = docs.map((d) => shingleHashes(wordHashes(d), n).slice());
    const offsets = new Uint32Array(docs.length + 1);
    parts.forEach((p, i) => (offsets[i + 1] = offsets[i]! + p.length));
    const all = new Uint32Array(offsets[docs.length]!);
    parts.forEach((p, i) => all.set(p, offsets[i]!));
    return { all, offsets };
  };
  const form = (name: string) => `please write a formal letter to my landlord ${name} asking to fix the broken heating in my flat before winter`;
  const rule = { ngram: 3, maxOthers: 2, minCoverage: 0.8 };

  it('flags a form filled in many times, with its family, count and first member', () => {
    const docs = [...['anna', 'bob', 'carl', 'dora'].map(form), text(1, 20).join(' ')];
    const { all, offsets } = layout(docs, 3);
    const r = templatedDocuments(Runs.fromOffsets(all, offsets), rule);
    assert.deepEqual([...r.templated], [1, 1, 1, 1, 0]);
    assert.deepEqual(r.families, [{ first: 0, count: 4 }]);
    assert.deepEqual([...r.family], [0, 0, 0, 0, -1]);
    // More than maxOthers others are needed: with 4 holders, maxOthers 3 flags none.
    assert.equal(templatedDocuments(Runs.fromOffsets(all, offsets), { ...rule, maxOthers: 3 }).templated.reduce((x, y) => x + y, 0), 0);
  });

  it('does not flag ordinary prompts that share one common phrase', () => {
    // 'can you help me write' opens every prompt; the rest is each prompt's own.
    const docs = Array.from({ length: 6 }, (_, i) => `can you help me write ${text(100 + i, 12).join(' ')}`);
    const { all, offsets } = layout(docs, 3);
    const r = templatedDocuments(Runs.fromOffsets(all, offsets), rule);
    assert.ok(r.frequentNgrams >= 3, 'the phrase is frequent');
    assert.deepEqual([...r.templated], [0, 0, 0, 0, 0, 0]);
    // The old rule (any one frequent n-gram) is coverage > 0: it would flag them all.
    assert.deepEqual([...templatedDocuments(Runs.fromOffsets(all, offsets), { ...rule, minCoverage: 0.01 }).templated], [1, 1, 1, 1, 1, 1]);
  });

  it('does not call two short prompts that are mostly a common phrase a template: a family must be larger than max_others', () => {
    const docs = [...Array.from({ length: 6 }, (_, i) => `can you help me write ${text(100 + i, 12).join(' ')}`), 'can you help me write haiku', 'can you help me write sonnets'];
    const { all, offsets } = layout(docs, 3);
    // Each short one is covered 5 words of 6 by frequent 3-grams ('can you help', 'you help me', 'help me write').
    const loose = { ...rule, minCoverage: 0.6 };
    const r = templatedDocuments(Runs.fromOffsets(all, offsets), loose);
    assert.deepEqual([...r.templated], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(r.families, []);
    // Allowed families of 2 (max_others 1), the same two are one family.
    assert.deepEqual([...templatedDocuments(Runs.fromOffsets(all, offsets), { ...loose, maxOthers: 1 }).templated], [0, 0, 0, 0, 0, 0, 1, 1]);
  });
});

describe('sketching in worker threads', () => {
  it('gives identical output for 0, 1 and 2 workers and any batch size', async () => {
    const texts = Array.from({ length: 3000 }, (_, i) => text(i % 700, 5 + (i % 40)).join(' '));
    const o = { ngram: 5, numPerm: 64, seed: 3, method: 'oph' as const, templateNgram: 7, templateMaxPerDoc: 64, bands: 10, rows: 6, keepWords: true };
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
      assert.deepEqual(x.templates.flat(), a.templates.flat());
      assert.deepEqual(x.wordSeq.flat(), a.wordSeq.flat());
    }
  });

  it('keeps word sequences, and leaves out signatures when only band keys are wanted', async () => {
    const texts = ['lo lo lo', 'Lo, lo mi!', '', 'lo lo'];
    const o = { ngram: 1, numPerm: 32, seed: 7, method: 'oph' as const, templateNgram: 0, templateMaxPerDoc: 0, bands: 8, rows: 4, keepWords: true, keepSignatures: false };
    async function* one() {
      yield { texts };
    }
    const sk = await sketchDocuments(one(), texts.length, o, 1);
    assert.deepEqual([...sk.wordSeq.flat().offsets], [0, 3, 6, 6, 8]);
    assert.equal(sk.signatures.length, 0);
    assert.equal(sk.bandKeys.length, 8 * texts.length);
    assert.deepEqual(sk.wordSeq.view(0).subarray(0, 2), sk.wordSeq.view(1).subarray(0, 2), 'case and punctuation fold away');
    // Same word set {lo}: same band keys, though the sequences differ.
    for (let b = 0; b < 8; b++) assert.equal(sk.bandKeys[b * 4 + 0], sk.bandKeys[b * 4 + 3]);
  });
  it('equals the rule computed naively (document frequency by sets), an n-gram repeated within one document counted once', () => {
    // The rule as written: frequent = held by more than maxOthers other documents; templated =
    // frequent n-grams cover >= minCoverage of the words; family = smallest frequent hash, kept
    // when larger than maxOthers + 1.
    const naive = (docs: Uint32Array[], w: number, r: { maxOthers: number; minCoverage: number }) => {
      const df = new Map<number, number>();
      for (const d of docs) for (const h of new Set(d)) df.set(h, (df.get(h) ?? 0) + 1);
      const freq = new Set([...df].filter(([, c]) => c - 1 > r.maxOthers).map(([h]) => h));
      const keyOf = docs.map((d) => {
        if (d.length === 0) return -1;
        const cover = new Uint8Array(d.length + w - 1);
        let key = -1;
        d.forEach((h, k) => {
          if (!freq.has(h)) return;
          cover.fill(1, k, k + w);
          if (key < 0 || h < key) key = h;
        });
        return key >= 0 && cover.reduce((x, y) => x + y, 0) >= r.minCoverage * (d.length + w - 1) ? key : -1;
      });
      const size = new Map<number, number>();
      for (const k of keyOf) if (k >= 0) size.set(k, (size.get(k) ?? 0) + 1);
      return { frequent: freq.size, templated: keyOf.map((k) => (k >= 0 && size.get(k)! > r.maxOthers ? 1 : 0)) };
    };
    fc.assert(
      fc.property(
        // n-gram hashes over a tiny alphabet: repeats within a document and across documents are common.
        fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 12 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 10 }).map((k) => k / 10),
        (raw, maxOthers, minCoverage) => {
          const docs = raw.map((d) => Uint32Array.from(d, (x) => x * 0x9e3779b1));
          const offsets = new Uint32Array(docs.length + 1);
          docs.forEach((d, i) => (offsets[i + 1] = offsets[i]! + d.length));
          const all = new Uint32Array(offsets[docs.length]!);
          docs.forEach((d, i) => all.set(d, offsets[i]!));
          const got = templatedDocuments(Runs.fromOffsets(all, offsets), { ngram: 3, maxOthers, minCoverage });
          const want = naive(docs, 3, { maxOthers, minCoverage });
          assert.equal(got.frequentNgrams, want.frequent);
          assert.deepEqual([...got.templated], want.templated);
        },
      ),
      propertyOptions(300),
    );
  });
});

describe('runs of values per document', () => {
  it('gathers documents into another order without copying the values', () => {
    const a = Runs.fromOffsets(Uint32Array.from([1, 2, 3, 4, 5]), Uint32Array.from([0, 2, 2, 5]));
    const b = new Runs([Uint32Array.from([9]), a.segments[0]!], Uint32Array.from([1, 0]), Uint32Array.from([2, 0]), Uint32Array.from([3, 1]));
    assert.deepEqual([...a.view(2)], [3, 4, 5]);
    assert.deepEqual([...b.view(1)], [9]);
    const g = a.gather(Int32Array.from([2, 0, 1]));
    assert.equal(g.segments[0], a.segments[0], 'the same array');
    assert.deepEqual([...g.flat().values], [3, 4, 5, 1, 2]);
    assert.deepEqual([...g.flat().offsets], [0, 3, 5, 5]);
    assert.equal(g.total(), 5);
  });

  it('finds the values occurring at least k times as a count would, colliding buckets and saturated counters included', () => {
    const naive = (runs: Uint32Array[], k: number) => {
      const c = new Map<number, number>();
      for (const r of runs) for (const v of r) c.set(v, (c.get(v) ?? 0) + 1);
      return [...c].filter(([, x]) => x >= k).map(([v]) => v).sort((x, y) => x - y);
    };
    fc.assert(
      fc.property(
        // Few distinct values: buckets (about one per occurrence) collide often.
        fc.array(fc.array(fc.integer({ min: 0, max: 40 }).map((x) => (x * 0x9e3779b1) >>> 0), { maxLength: 60 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        (runs, k) => {
          // Split across two segments, gathered out of order: only the runs' values count.
          const half = runs.length >> 1;
          const seg = (rs: Uint32Array[] | number[][]) => Runs.fromOffsets(Uint32Array.from(rs.flat()), Uint32Array.from([0, ...rs.map((_, i) => rs.slice(0, i + 1).flat().length)]));
          const x = seg(runs.slice(0, half));
          const y = seg(runs.slice(half));
          const both = new Runs([x.segments[0]!, y.segments[0]!], Uint32Array.from([...x.seg, ...y.seg.map(() => 1)]), Uint32Array.from([...x.start, ...y.start]), Uint32Array.from([...x.len, ...y.len]));
          const order = Int32Array.from(runs.map((_, i) => runs.length - 1 - i));
          assert.deepEqual([...valuesOccurringAtLeast(both.gather(order), k)], naive(runs.map((r) => Uint32Array.from(r)), k));
        },
      ),
      propertyOptions(300),
    );
    // Many distinct values at the table's design load (about bar / 8 per bucket, so most
    // buckets hold several): values seen k - 1 times stay out, k times come in, whatever
    // shares their bucket.
    {
      const k = 20;
      const vals: number[] = [];
      let h = 12345;
      for (let i = 0; i < 300_000; i++) vals.push((h = (Math.imul(h, 0x2c9277b5) + 0xac564b05) >>> 0));
      for (let c = 0; c < 50; c++) for (let j = 0; j < k - 1 + (c & 1); j++) vals.push(1_000_000 + c);
      const runs = Runs.fromOffsets(Uint32Array.from(vals), Uint32Array.from([0, 150_000, vals.length]));
      assert.deepEqual([...valuesOccurringAtLeast(runs, k)], naive([Uint32Array.from(vals)], k));
      assert.equal(valuesOccurringAtLeast(runs, k).filter((v) => v >= 1_000_000 && v < 1_000_050).length, 25);
    }
    // One value 70,000 times saturates its 16-bit bucket and is still counted exactly.
    const many = new Uint32Array(70_001).fill(7);
    many[70_000] = 8;
    assert.deepEqual([...valuesOccurringAtLeast(Runs.fromOffsets(many, Uint32Array.from([0, 70_001])), 70_000)], [7]);
    assert.deepEqual([...valuesOccurringAtLeast(Runs.fromOffsets(many, Uint32Array.from([0, 70_001])), 70_001)], []);
  });
});
