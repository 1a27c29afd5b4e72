/**
 * Stable LSD radix sort (two 16-bit passes) of the first `count` entries of idx by
 * keys[idx[i]]. O(n), no comparisons, no objects: 1M entries sort in milliseconds.
 */
export function radixSortByKey(keys: Uint32Array, idx: Uint32Array, count: number, tmp = new Uint32Array(count)): void {
  const counts = new Uint32Array(65536);
  for (let pass = 0; pass < 2; pass++) {
    const shift = pass * 16;
    const src = pass === 0 ? idx : tmp;
    const dst = pass === 0 ? tmp : idx;
    counts.fill(0);
    for (let i = 0; i < count; i++) counts[(keys[src[i]!]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let b = 0; b < 65536; b++) {
      const c = counts[b]!;
      counts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < count; i++) {
      const v = src[i]!;
      dst[counts[(keys[v]! >>> shift) & 0xffff]!++] = v;
    }
  }
}

/** A sorted copy of a Uint32Array by the same two-pass radix sort: O(n) where .sort() is O(n log n). */
export function radixSortValues(values: Uint32Array): Uint32Array {
  const n = values.length;
  const a = values.slice();
  const b = new Uint32Array(n);
  const counts = new Uint32Array(65536);
  for (let pass = 0; pass < 2; pass++) {
    const shift = pass * 16;
    const src = pass === 0 ? a : b;
    const dst = pass === 0 ? b : a;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(src[i]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let k = 0; k < 65536; k++) {
      const c = counts[k]!;
      counts[k] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      dst[counts[(v >>> shift) & 0xffff]!++] = v;
    }
  }
  return a;
}
