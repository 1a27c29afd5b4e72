import { exactKey, TURN_SEPARATOR } from './exact-key.js';
import { bandKey } from './lsh-clusters.js';
import { MinHasher, type MinhashMethod } from './minhash-signature.js';
import { shingleHashes } from './shingle-hashes.js';
import { wordHashes, type WordBreaks } from './word-hashes.js';

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
  /** How punctuation bounds words (default split). */
  wordBreaks?: WordBreaks;
  /** Keep each document's word hashes (near-dedup verifies candidates on them). */
  keepWords?: boolean;
  /**
   * Texts are user sides, turns joined by TURN_SEPARATOR: near-dedup reads the first turn or
   * all of them, the templated-prompt rule the first, and the exact key is hashed over
   * `exact` (absent: the texts are plain, no exact keys).
   */
  userSides?: { near: 'first_user_turn' | 'all_user_turns'; exact: 'first_user_turn' | 'all_user_turns' };
  /** Return the signatures (the leak check compares them); false: only their band keys leave the worker. */
  keepSignatures?: boolean;
}

export interface SketchBatch {
  count: number;
  /** count x numPerm signatures. */
  signatures: Uint32Array;
  /** Words per document (documents shorter than the shingle size get special treatment). */
  words: Uint32Array;
  /** Template n-gram hashes of document i in text order (position k covers words k .. k+n-1): templates[offsets[i] .. offsets[i+1]). */
  templates: Uint32Array;
  templateOffsets: Uint32Array;
  /** With keepWords, the word hashes of document i in text order: wordSeq[wordOffsets[i] .. wordOffsets[i+1]). */
  wordSeq: Uint32Array;
  wordOffsets: Uint32Array;
  /** count x bands LSH band keys, document-major (empty without bands). */
  bandKeys: Uint32Array;
  /** With userSides: two 32-bit halves of document i's exact key at 2i, 2i+1 (see exact-key.ts). */
  exactKeys: Uint32Array;
}

/**
 * Everything dedup needs from a batch of texts, computed in one pass over each text.
 */
export function sketchBatch(
  texts: string[],
  o: SketchOptions,
  hasher = new MinHasher({ numPerm: o.numPerm, seed: o.seed, method: o.method }),
): SketchBatch {
  const sides = o.userSides;
  const exactKeys = new Uint32Array(sides ? 2 * texts.length : 0);
  const count = texts.length;
  const keepSig = o.keepSignatures ?? true;
  const signatures = new Uint32Array(keepSig ? count * o.numPerm : o.numPerm);
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
  let wordSeq = new Uint32Array(o.keepWords ? Math.max(1024, count * 32) : 0);
  const wordOffsets = new Uint32Array(o.keepWords ? count + 1 : 1);
  let wn = 0;
  for (let i = 0; i < count; i++) {
    const text = texts[i]!;
    let firstTurn = text;
    if (sides) {
      const cut = text.indexOf(TURN_SEPARATOR);
      if (cut >= 0) firstTurn = text.slice(0, cut);
      exactKey(text, sides.exact === 'first_user_turn', exactKeys, 2 * i);
    }
    const w = wordHashes(sides && sides.near === 'first_user_turn' ? firstTurn : text, wbuf, o.wordBreaks);
    if (w.buffer !== wbuf.buffer) wbuf = new Uint32Array(w.buffer);
    words[i] = w.length;
    const sh = shingleHashes(w, o.ngram, sbuf);
    if (sh.buffer !== sbuf.buffer) sbuf = new Uint32Array(sh.buffer);
    const at = keepSig ? i * o.numPerm : 0;
    hasher.sign(sh, signatures, at);
    for (let b = 0; b < bands; b++) bandKeys[i * bands + b] = bandKey(signatures, at, b, rows);
    if (o.keepWords) {
      wordSeq = appendAt(wordSeq, wn, w);
      wn += w.length;
      wordOffsets[i + 1] = wn;
    }
    const tw = sides && sides.near !== 'first_user_turn' ? wordHashes(firstTurn, undefined, o.wordBreaks) : w;
    if (o.templateNgram > 0 && tw.length >= o.templateNgram) {
      const tg = shingleHashes(tw, o.templateNgram, tbuf);
      if (tg.buffer !== tbuf.buffer) tbuf = new Uint32Array(tg.buffer);
      const d = tg.length > o.templateMaxPerDoc ? tg.subarray(0, o.templateMaxPerDoc) : tg;
      templates = appendAt(templates, t, d);
      t += d.length;
    }
    templateOffsets[i + 1] = t;
  }
  return { count, signatures: keepSig ? signatures : new Uint32Array(0), words, templates: templates.slice(0, t), templateOffsets, wordSeq: wordSeq.slice(0, wn), wordOffsets, bandKeys, exactKeys };
}

/** buf with values written at `at`, grown (doubling) when they do not fit: the caller keeps the returned array. */
function appendAt(buf: Uint32Array<ArrayBuffer>, at: number, values: Uint32Array): Uint32Array<ArrayBuffer> {
  if (at + values.length > buf.length) {
    const g = new Uint32Array(Math.max(buf.length * 2, at + values.length));
    g.set(buf.subarray(0, at));
    buf = g;
  }
  buf.set(values, at);
  return buf;
}
