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
