const BASE = 0x9e3779b1;

/**
 * Hashes of the word n-grams of a document (one per position), by a polynomial rolling
 * hash over the word hashes mod 2^32 (O(1) per position whatever n). Not avalanched: the
 * MinHash step mixes every value it reads, and the template count needs only equality.
 * A text shorter than n words yields one shingle of all its words.
 */
export function shingleHashes(words: Uint32Array, n: number, out?: Uint32Array): Uint32Array {
  const len = words.length;
  const count = len === 0 ? 0 : Math.max(1, len - n + 1);
  const buf = out && out.length >= count ? out : new Uint32Array(Math.max(count, 16));
  if (count === 0) return buf.subarray(0, 0);
  const width = Math.min(n, len);
  let top = 1; // BASE^(width-1)
  for (let j = 1; j < width; j++) top = Math.imul(top, BASE);
  let h = 0;
  for (let j = 0; j < width; j++) h = (Math.imul(h, BASE) + words[j]!) | 0;
  buf[0] = (h ^ width) >>> 0;
  for (let i = 1; i < count; i++) {
    h = (Math.imul((h - Math.imul(words[i - 1]!, top)) | 0, BASE) + words[i + width - 1]!) | 0;
    buf[i] = (h ^ width) >>> 0;
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
