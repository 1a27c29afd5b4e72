import { mix32 } from './hash32.js';
import { estimateJaccard } from './minhash-signature.js';
import { radixSortByKey } from './radix-sort.js';
import { UnionFind } from './union-find.js';

export interface LshOptions {
  numPerm: number;
  bands: number;
  rows: number;
  /** Minimum estimated Jaccard for a candidate pair to join a cluster (with verify). */
  threshold: number;
  /** Check candidates' estimated Jaccard; without it, sharing a band is enough. */
  verify: boolean;
  /** 1 for documents that take part; the others stay singletons. */
  eligible?: Uint8Array;
  /**
   * Band keys computed beforehand (bands x n, band-major; see writeBandKeys), e.g. by the
   * sketch workers while each signature was still in cache. Computed here when absent.
   */
  bandKeys?: Uint32Array;
}

/**
 * The LSH key of band `band` of the signature at sig[base ..]: signature values are already
 * uniform hashes, so a multiply-xor chain and one final avalanche are enough.
 */
export function bandKey(sig: Uint32Array, base: number, band: number, rows: number): number {
  let h = mix32(band + 0x2545f491);
  const start = base + band * rows;
  for (let r = 0; r < rows; r++) h = Math.imul(h ^ sig[start + r]!, 0x9e3779b1) ^ (h >>> 15);
  return mix32(h);
}

export interface LshResult {
  /** root[i]: the smallest index of i's cluster (its keeper). */
  root: Int32Array;
  /** Estimated Jaccard of i and its keeper (1 for keepers). */
  similarity: Float32Array;
  size: Int32Array;
  candidatePairs: number;
  mergedPairs: number;
}

/**
 * Calls visit(order, start, end) for every LSH bucket with two or more documents: per
 * band, eligible documents are radix-sorted by the hash of their band, and each run of
 * equal hashes order[start..end) is a bucket (in ascending document order).
 */
export function forEachBucket(
  sig: Uint32Array,
  n: number,
  o: Pick<LshOptions, 'numPerm' | 'bands' | 'rows' | 'eligible' | 'bandKeys'>,
  visit: (order: Uint32Array, start: number, end: number) => void,
): void {
  if (o.bands * o.rows > o.numPerm) throw new RangeError(`bands x rows (${o.bands} x ${o.rows}) exceeds num_perm ${o.numPerm}`);
  if (o.bandKeys && o.bandKeys.length !== o.bands * n) throw new RangeError(`bandKeys holds ${o.bandKeys.length} keys, expected ${o.bands} x ${n}`);
  const own = o.bandKeys ? undefined : new Uint32Array(n);
  const order = new Uint32Array(n);
  const tmp = new Uint32Array(n);
  for (let band = 0; band < o.bands; band++) {
    let count = 0;
    const keys = o.bandKeys ? o.bandKeys.subarray(band * n, (band + 1) * n) : own!;
    for (let i = 0; i < n; i++) {
      if (o.eligible && !o.eligible[i]) continue;
      if (own) own[i] = bandKey(sig, i * o.numPerm, band, o.rows);
      order[count++] = i;
    }
    radixSortByKey(keys, order, count, tmp);
    let runStart = 0;
    while (runStart < count) {
      const key = keys[order[runStart]!]!;
      let runEnd = runStart + 1;
      while (runEnd < count && keys[order[runEnd]!]! === key) runEnd++;
      if (runEnd - runStart > 1) visit(order, runStart, runEnd);
      runStart = runEnd;
    }
  }
}

/**
 * Near-duplicate clusters by LSH banding over MinHash signatures (n x numPerm, row-major).
 * Within a bucket each document is verified against the bucket's first document and its
 * predecessor (not all pairs, so a bucket of thousands of templated prompts stays linear),
 * and clusters form transitively.
 */
export function lshClusters(sig: Uint32Array, n: number, o: LshOptions): LshResult {
  const uf = new UnionFind(n);
  let candidatePairs = 0;
  let mergedPairs = 0;
  const similar = (i: number, j: number) => !o.verify || estimateJaccard(sig, i, j, o.numPerm) >= o.threshold;
  forEachBucket(sig, n, o, (order, runStart, runEnd) => {
    const anchor = order[runStart]!;
    for (let k = runStart + 1; k < runEnd; k++) {
      const x = order[k]!;
      const prev = order[k - 1]!;
      candidatePairs++;
      if (uf.find(x) === uf.find(anchor)) continue;
      if (similar(anchor, x)) {
        if (uf.union(anchor, x)) mergedPairs++;
      } else if (prev !== anchor && similar(prev, x)) {
        if (uf.union(prev, x)) mergedPairs++;
      }
    }
  });
  const root = new Int32Array(n);
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    root[i] = uf.find(i);
    size[root[i]!]!++;
  }
  const similarity = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    similarity[i] = root[i] === i ? 1 : estimateJaccard(sig, i, root[i]!, o.numPerm);
    size[i] = size[root[i]!]!;
  }
  return { root, similarity, size, candidatePairs, mergedPairs };
}
