import { radixSortByKey } from './radix-sort.js';

/**
 * Exact-duplicate groups by key, on typed arrays. keys holds two 32-bit halves per document
 * (2i, 2i+1); byPriority lists every document once, keeper priority first. Returns, per
 * document, the document that survives for its key: the first of its group in priority
 * order (itself when it is a survivor). Two stable radix sorts (low half, then high) leave
 * each group in priority order.
 */
export function exactKeepers(keys: Uint32Array, byPriority: Int32Array): Int32Array {
  const n = byPriority.length;
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    lo[i] = keys[2 * i]!;
    hi[i] = keys[2 * i + 1]!;
  }
  const idx = new Uint32Array(byPriority.buffer.slice(byPriority.byteOffset, byPriority.byteOffset + n * 4));
  const tmp = new Uint32Array(n);
  radixSortByKey(lo, idx, n, tmp);
  radixSortByKey(hi, idx, n, tmp);
  const keeper = new Int32Array(n);
  let head = -1;
  for (let k = 0; k < n; k++) {
    const d = idx[k]!;
    if (k === 0 || lo[d] !== lo[head] || hi[d] !== hi[head]) head = d;
    keeper[d] = head;
  }
  return keeper;
}
