import { combine32, mix32 } from './hash32.js';

/**
 * Hashes of the word n-grams of a document (one per position). A text shorter than n words
 * yields one shingle of all its words, so short texts still have a signature.
 */
export function shingleHashes(words: Uint32Array, n: number, out?: Uint32Array): Uint32Array {
  const count = words.length === 0 ? 0 : Math.max(1, words.length - n + 1);
  const buf = out && out.length >= count ? out : new Uint32Array(Math.max(count, 16));
  const width = Math.min(n, words.length);
  for (let i = 0; i < count; i++) {
    let h = n;
    for (let j = 0; j < width; j++) h = combine32(h, words[i + j]!);
    buf[i] = mix32(h);
  }
  return buf.subarray(0, count);
}

/** Distinct values of a (small) array, sorted; in place on a copy. */
export function distinctSorted(values: Uint32Array): Uint32Array {
  const a = values.slice().sort();
  let k = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[k - 1]) a[k++] = a[i]!;
  return a.subarray(0, k);
}
