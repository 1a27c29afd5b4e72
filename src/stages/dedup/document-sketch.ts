import { bandKey } from './lsh-clusters.js';
import { mix32 } from './hash32.js';
import { MinHasher, type MinhashMethod } from './minhash-signature.js';
import { shingleHashes } from './shingle-hashes.js';
import { wordHashes } from './word-hashes.js';

export interface SketchOptions {
  ngram: number;
  numPerm: number;
  seed: number;
  method: MinhashMethod;
  /** Word n-gram length of the templated-prompt rule; 0 turns it off. */
  templateNgram: number;
  /** Template n-gram positions kept per document, from its start (a 40k-character paste need not list them all). */
  templateMaxPerDoc: number;
  /** LSH shape whose band keys to compute while each signature is in cache (0 bands: none). */
  bands?: number;
  rows?: number;
}

/**
 * Documents with at most this many shingles are also kept as exact sets: one-permutation
 * MinHash fills the bins of a 2-shingle set by densification, and estimates "lo lo lo" vs
 * "lo lo mi" (Jaccard 0.5) anywhere from 0 to 1, so short prompts are compared exactly.
 */
export const SMALL_SET = 16;

export interface SketchBatch {
  count: number;
  /** count x numPerm signatures. */
  signatures: Uint32Array;
  /** Words per document (documents shorter than the shingle size get special treatment). */
  words: Uint32Array;
  /** Template n-gram hashes of document i in text order (position k covers words k .. k+n-1): templates[offsets[i] .. offsets[i+1]). */
  templates: Uint32Array;
  templateOffsets: Uint32Array;
  /**
   * Sorted distinct shingle hashes of document i when it has at most SMALL_SET shingles:
   * smallSets[smallOffsets[i] .. smallOffsets[i+1]) (empty for larger documents).
   */
  smallSets: Uint32Array;
  smallOffsets: Uint32Array;
  /** count x bands LSH band keys, document-major (empty without bands). */
  bandKeys: Uint32Array;
}

/**
 * Everything dedup needs from a batch of texts, computed in one pass over each text.
 * templateTexts, when given, are what the templated-prompt rule reads instead of texts.
 */
export function sketchBatch(
  texts: string[],
  o: SketchOptions,
  hasher = new MinHasher({ numPerm: o.numPerm, seed: o.seed, method: o.method }),
  templateTexts?: string[],
): SketchBatch {
  const count = texts.length;
  const signatures = new Uint32Array(count * o.numPerm);
  const words = new Uint32Array(count);
  const templateOffsets = new Uint32Array(count + 1);
  const bands = o.bands ?? 0;
  const rows = o.rows ?? 0;
  const bandKeys = new Uint32Array(count * bands);
  let templates = new Uint32Array(Math.max(1024, count * 16));
  let wbuf: Uint32Array = new Uint32Array(4096);
  let sbuf: Uint32Array = new Uint32Array(4096);
  let tbuf: Uint32Array = new Uint32Array(4096);
  let t = 0;
  const small = new Uint32Array(count * SMALL_SET);
  const smallOffsets = new Uint32Array(count + 1);
  let sn = 0;
  for (let i = 0; i < count; i++) {
    const w = wordHashes(texts[i]!, wbuf);
    if (w.buffer !== wbuf.buffer) wbuf = new Uint32Array(w.buffer);
    words[i] = w.length;
    const sh = shingleHashes(w, o.ngram, sbuf);
    if (sh.buffer !== sbuf.buffer) sbuf = new Uint32Array(sh.buffer);
    hasher.sign(sh, signatures, i * o.numPerm);
    if (sh.length > 0 && sh.length <= SMALL_SET) {
      // As a multiset (the k-th repeat of a shingle is its own element): as a set, "lo lo"
      // and "lo lo lo" are both {lo lo}, the same text.
      const d = sh.slice().sort();
      const at = sn;
      for (let k = 0, rep = 0; k < d.length; k++) {
        rep = k > 0 && d[k] === d[k - 1] ? rep + 1 : 0;
        small[sn++] = rep === 0 ? d[k]! : mix32(d[k]! ^ Math.imul(rep, 0x9e3779b1));
      }
      small.subarray(at, sn).sort();
    }
    smallOffsets[i + 1] = sn;
    for (let b = 0; b < bands; b++) bandKeys[i * bands + b] = bandKey(signatures, i * o.numPerm, b, rows);
    const tw = templateTexts ? wordHashes(templateTexts[i]!) : w;
    if (o.templateNgram > 0 && tw.length >= o.templateNgram) {
      const tg = shingleHashes(tw, o.templateNgram, tbuf);
      if (tg.buffer !== tbuf.buffer) tbuf = new Uint32Array(tg.buffer);
      const d = tg.length > o.templateMaxPerDoc ? tg.subarray(0, o.templateMaxPerDoc) : tg;
      if (t + d.length > templates.length) {
        const g = new Uint32Array(Math.max(templates.length * 2, t + d.length));
        g.set(templates.subarray(0, t));
        templates = g;
      }
      templates.set(d, t);
      t += d.length;
    }
    templateOffsets[i + 1] = t;
  }
  return { count, signatures, words, templates: templates.slice(0, t), templateOffsets, smallSets: small.slice(0, sn), smallOffsets, bandKeys };
}
