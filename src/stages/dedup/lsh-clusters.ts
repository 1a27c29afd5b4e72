import { mix32 } from './hash32.js';
import { estimateJaccard } from './minhash-signature.js';
import { radixSortByKey } from './radix-sort.js';
import { TopPairs, type ScoredPair } from './top-pairs.js';
import { UnionFind } from './union-find.js';

export type { ScoredPair } from './top-pairs.js';

export interface LshOptions {
  numPerm: number;
  bands: number;
  rows: number;
  /** Minimum similarity (see `similarity`) for a candidate pair to join a cluster (with verify). */
  threshold: number;
  /** Check candidates' similarity; without it, sharing a band is enough. */
  verify: boolean;
  /** 1 for documents that take part; the others stay singletons. */
  eligible?: Uint8Array;
  /**
   * Band keys computed beforehand (bands x n, band-major; see writeBandKeys), e.g. by the
   * sketch workers while each signature was still in cache. Computed here when absent.
   */
  bandKeys?: Uint32Array;
  /** How many near misses and weakest merges to report (0: none). */
  pairsToReport?: number;
  /**
   * keeper (default): a document is dropped only for a keeper it is itself similar to, so a
   * chain of small steps ("what are you" -> "what are you on" -> "what are you hosted on")
   * never joins two different requests; single: clusters are the transitive closure of the
   * verified pairs. Without verify both are the same.
   */
  linkage?: Linkage;
  /**
   * How similar documents i and j are, compared with threshold (e.g. near-dedup's word edit
   * similarity); default: the signatures' estimated Jaccard. Exact when the result is >=
   * floor; below it, any value below floor will do (an upper bound that lets the edit
   * distance stop early). floor is never above threshold.
   */
  similarity?: (i: number, j: number, floor: number) => number;
  /**
   * More buckets besides the bands: documents with members[i] = 1 and equal keys[i] (e.g. a
   * hash of a short text's words). Such documents are eligible = 2: they skip the bands.
   */
  exactBuckets?: { keys: Uint32Array; members: Uint8Array };
}

/** The similarity lshClusters verifies with: the caller's, or the signatures' estimated Jaccard. */
export function similarityOf(sig: Uint32Array, o: Pick<LshOptions, 'numPerm' | 'similarity'>): (i: number, j: number, floor: number) => number {
  return o.similarity ?? ((i, j) => estimateJaccard(sig, i, j, o.numPerm));
}

export type Linkage = 'keeper' | 'single';

/** Keepers of one transitive component that a later member is compared with, in priority order. */
const KEEPER_CAP = 64;

/**
 * A bucket member is verified against the bucket's first member and the WINDOW members
 * before it, until one matches: linear in the bucket's size (a bucket of thousands of
 * templated prompts stays cheap), and a chance collision at the bucket's head (common words
 * of short prompts, a family of re-sent variants) does not hide the real pair behind it.
 */
const WINDOW = 16;

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
  /** The most similar candidate pairs left in different clusters, most similar first. */
  nearMisses: ScoredPair[];
  /** The least similar pairs that joined two clusters, least similar first. */
  weakestMerges: ScoredPair[];
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
    visitSorted(keys, order, count, tmp, visit);
  }
}

function visitSorted(keys: Uint32Array, order: Uint32Array, count: number, tmp: Uint32Array<ArrayBuffer>, visit: (order: Uint32Array, start: number, end: number) => void): void {
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

/** visit() for every run of two or more members (members[i] = 1) with equal keys, in ascending document order. */
function visitRuns(keys: Uint32Array, members: Uint8Array, n: number, visit: (order: Uint32Array, start: number, end: number) => void): void {
  const order = new Uint32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) if (members[i]) order[count++] = i;
  visitSorted(keys, order, count, new Uint32Array(n), visit);
}

/**
 * Near-duplicate clusters by LSH banding over MinHash signatures (n x numPerm, row-major).
 * Within a bucket each document is verified against earlier members (see SMALL_BUCKET), and
 * clusters form transitively before keeper linkage splits them.
 */
export function lshClusters(sig: Uint32Array, n: number, o: LshOptions): LshResult {
  const uf = new UnionFind(n);
  let candidatePairs = 0;
  let mergedPairs = 0;
  const keep = o.pairsToReport ?? 0;
  const misses = new TopPairs(poolSize(keep), true);
  const merges = new TopPairs(poolSize(keep), false);
  const sim = similarityOf(sig, o);
  // Below the threshold a similarity matters only if it would rank among the near misses.
  const floor = () => (keep ? Math.min(o.threshold, misses.bar()) : o.threshold);
  const score = (i: number, j: number) => (o.verify ? sim(i, j, floor()) : 1);
  const tryJoin = (i: number, j: number): boolean => {
    const s = score(i, j);
    if (s < o.threshold) {
      if (keep) misses.add(i, j, s);
      return false;
    }
    if (uf.union(i, j)) {
      mergedPairs++;
      if (keep) merges.add(i, j, s);
    }
    return true;
  };
  const visit = (order: Uint32Array, runStart: number, runEnd: number) => {
    for (let k = runStart + 1; k < runEnd; k++) {
      const x = order[k]!;
      // The bucket's first member, then the WINDOW members just before x, until one joins.
      const from = Math.max(runStart + 1, k - WINDOW);
      for (let q = runStart; q < k; q = q === runStart ? from : q + 1) {
        const y = order[q]!;
        candidatePairs++;
        if (uf.find(x) === uf.find(y) || tryJoin(y, x)) break;
      }
    }
  };
  const inBands = o.eligible ? o.eligible.map((e) => (e === 1 ? 1 : 0)) : undefined;
  forEachBucket(sig, n, { ...o, eligible: inBands }, visit);
  if (o.exactBuckets) visitRuns(o.exactBuckets.keys, o.exactBuckets.members, n, visit);
  const root = new Int32Array(n);
  for (let i = 0; i < n; i++) root[i] = uf.find(i);
  const similarity = new Float32Array(n);
  let weakest = merges;
  if ((o.linkage ?? 'keeper') === 'keeper' && o.verify) {
    weakest = new TopPairs(poolSize(keep), false);
    splitByKeeper(sim, n, o, root, similarity, keep ? misses : null, keep ? weakest : null);
  } else {
    for (let i = 0; i < n; i++) similarity[i] = root[i] === i ? 1 : sim(i, root[i]!, 0);
  }
  const size = new Int32Array(n);
  for (let i = 0; i < n; i++) size[root[i]!]!++;
  for (let i = 0; i < n; i++) size[i] = size[root[i]!]!;
  // A pair that failed its own check may have been joined through others: not a miss.
  const nearMisses = misses.sorted().filter((p) => root[p.a] !== root[p.b]).slice(0, keep);
  return { root, similarity, size, candidatePairs, mergedPairs, nearMisses, weakestMerges: weakest.sorted().slice(0, keep) };
}

/**
 * Pairs held for the `keep` to report: more than keep, since near misses later joined
 * through other pairs are filtered out at the end.
 */
function poolSize(keep: number): number {
  return keep ? 8 * keep + 64 : 0;
}

/**
 * Rewrites root (transitive components, rooted at their smallest index) into stars: the
 * members of a component, in priority order, each join the first keeper they are similar
 * to, or become a keeper themselves. Cost per member is bounded by KEEPER_CAP comparisons;
 * a member beyond the cap that matches none stays (keeping is the safe side).
 */
function splitByKeeper(
  sim: (i: number, j: number, floor: number) => number,
  n: number,
  o: LshOptions,
  root: Int32Array,
  similarity: Float32Array,
  misses: TopPairs | null,
  merges: TopPairs | null,
): void {
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[root[i]! + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, n);
  const members = new Int32Array(n);
  for (let i = 0; i < n; i++) members[fill[root[i]!]!++] = i;
  const keepers: number[] = [];
  for (let c = 0; c < n; c++) {
    const a = start[c]!;
    const b = start[c + 1]!;
    if (b - a === 0) continue;
    keepers.length = 0;
    for (let k = a; k < b; k++) {
      const m = members[k]!;
      // The most similar keeper (ties: the earlier one), not the first similar one: a copy
      // of B belongs with B even when an earlier A is also within the threshold.
      let to = -1;
      let s = 0;
      for (const kp of keepers) {
        const x = sim(m, kp, misses ? Math.min(o.threshold, misses.bar()) : o.threshold);
        if (x >= o.threshold) {
          if (x > s) {
            s = x;
            to = kp;
            if (x === 1) break;
          }
        } else misses?.add(kp, m, x);
      }
      if (to < 0) {
        root[m] = m;
        similarity[m] = 1;
        if (keepers.length < KEEPER_CAP) keepers.push(m);
      } else {
        root[m] = to;
        similarity[m] = s;
        merges?.add(to, m, s);
      }
    }
  }
}

