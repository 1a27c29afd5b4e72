import { mix32 } from '../dedup/hash32.js';
import { bandKey } from '../dedup/lsh-clusters.js';
import { radixSortByKey } from '../dedup/radix-sort.js';

export interface LeakOptions {
  numPerm: number;
  bands: number;
  rows: number;
  threshold: number;
  /** Training documents compared per bucket, so one huge bucket stays cheap. */
  maxTrainPerBucket?: number;
}

const DEFAULT_TRAIN_PER_BUCKET = 64;

/**
 * The held-out side of the leak check, built first; training documents then stream past it
 * once, in ascending order, and are never kept. Memory is the held-out documents'
 * signatures and band keys (a tenth of a run's conversations with the default fractions),
 * not every conversation's: holding all 2.66M signatures of a 3M-conversation run took the
 * split stage to 5.2 GiB.
 *
 * A held-out document's match is, among the first maxTrainPerBucket training documents of
 * each LSH bucket it shares with any, the most similar one (estimated Jaccard, the lowest
 * training rank on ties) reaching the threshold. Only eligible documents take part.
 */
export class HeldOutIndex<T> {
  /** Per held-out document: the rank of its matched training document, or -1. */
  readonly match: Int32Array;
  readonly similarity: Float32Array;
  /** Per held-out document: the tag offer() was given with its match. */
  readonly matchTag: (T | undefined)[];
  private readonly sig: Uint32Array;
  private readonly o: Required<LeakOptions>;
  /** Eligible held-out documents per band (he of them), sorted by band key: keys and documents. */
  private readonly he: number;
  private readonly keys: Uint32Array;
  private readonly docs: Uint32Array;
  /** Training documents seen so far by the bucket starting at each sorted position. */
  private readonly trainSeen: Uint8Array;
  /** One bit per hash of (band, key) of any held-out document: most training keys stop here. */
  private readonly filter: Uint32Array;
  private readonly filterShift: number;

  /**
   * sig: n x numPerm held-out signatures; bandKeys: n x bands (document-major), as the
   * sketch workers return them; eligible[i] = 1 for documents that take part.
   */
  constructor(sig: Uint32Array, bandKeys: Uint32Array, n: number, eligible: Uint8Array, o: LeakOptions) {
    if (o.bands * o.rows > o.numPerm) throw new RangeError(`bands x rows (${o.bands} x ${o.rows}) exceeds num_perm ${o.numPerm}`);
    this.o = { maxTrainPerBucket: DEFAULT_TRAIN_PER_BUCKET, ...o };
    if (this.o.maxTrainPerBucket > 255) throw new RangeError(`maxTrainPerBucket ${this.o.maxTrainPerBucket} is over 255`);
    this.sig = sig;
    this.match = new Int32Array(n).fill(-1);
    this.similarity = new Float32Array(n);
    this.matchTag = new Array<T | undefined>(n);
    const picked = new Uint32Array(n);
    let he = 0;
    for (let i = 0; i < n; i++) if (eligible[i]) picked[he++] = i;
    this.he = he;
    const bands = o.bands;
    this.keys = new Uint32Array(bands * he);
    this.docs = new Uint32Array(bands * he);
    this.trainSeen = new Uint8Array(bands * he);
    const bits = Math.min(28, Math.max(16, Math.ceil(Math.log2(Math.max(1, bands * he) * 16))));
    this.filter = new Uint32Array(2 ** (bits - 5));
    this.filterShift = 32 - bits;
    const bandOf = new Uint32Array(n);
    const order = new Uint32Array(he);
    const tmp = new Uint32Array(he);
    for (let b = 0; b < bands; b++) {
      for (let k = 0; k < he; k++) {
        const d = picked[k]!;
        bandOf[d] = bandKeys[d * bands + b]!;
        order[k] = d;
      }
      radixSortByKey(bandOf, order, he, tmp);
      const base = b * he;
      for (let k = 0; k < he; k++) {
        const d = order[k]!;
        this.keys[base + k] = bandOf[d]!;
        this.docs[base + k] = d;
        const f = this.filterBit(b, bandOf[d]!);
        this.filter[f >>> 5]! |= 1 << (f & 31);
      }
    }
  }

  private filterBit(band: number, key: number): number {
    return mix32(key ^ Math.imul(band + 1, 0x9e3779b1)) >>> this.filterShift;
  }

  /**
   * One training document, offered in ascending rank order: its signature at
   * sig[at .. at + numPerm) and band keys at bandKeys[bk .. bk + bands). tag is kept for
   * each held-out document it becomes the match of (e.g. its conversation id).
   */
  offer(sig: Uint32Array, at: number, bandKeys: Uint32Array, bk: number, rank: number, tag: T): void {
    const { bands, numPerm, threshold, maxTrainPerBucket } = this.o;
    const he = this.he;
    for (let b = 0; b < bands; b++) {
      const key = bandKeys[bk + b]!;
      const f = this.filterBit(b, key);
      if ((this.filter[f >>> 5]! & (1 << (f & 31))) === 0) continue;
      const base = b * he;
      let lo = base;
      let hi = base + he;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.keys[mid]! < key) lo = mid + 1;
        else hi = mid;
      }
      if (lo === base + he || this.keys[lo] !== key) continue;
      if (this.trainSeen[lo]! >= maxTrainPerBucket) continue;
      this.trainSeen[lo]!++;
      for (let k = lo; k < base + he && this.keys[k] === key; k++) {
        const d = this.docs[k]!;
        const s = similarityAt(this.sig, d * numPerm, sig, at, numPerm);
        if (s >= threshold && (s > this.similarity[d]! || (s === this.similarity[d]! && rank < this.match[d]!))) {
          this.similarity[d] = s;
          this.match[d] = rank;
          this.matchTag[d] = tag;
        }
      }
    }
  }

}

/** Estimated Jaccard of two signatures in different arrays (estimateJaccard's count). */
function similarityAt(a: Uint32Array, ai: number, b: Uint32Array, bi: number, numPerm: number): number {
  let eq = 0;
  for (let k = 0; k < numPerm; k++) if (a[ai + k] === b[bi + k]) eq++;
  return eq / numPerm;
}

/**
 * The leak check over one array of signatures (n x numPerm) with isTrain[i] marking
 * training documents: for every held-out document the matched training document's index
 * (or -1) and similarity, as HeldOutIndex finds them. For tests and small inputs; the
 * split stage streams training documents past a HeldOutIndex instead.
 */
export function crossSplitLeaks(
  sig: Uint32Array,
  n: number,
  isTrain: Uint8Array,
  o: LeakOptions & { eligible?: Uint8Array },
): { match: Int32Array; similarity: Float32Array } {
  const { numPerm, bands, rows } = o;
  const keysOf = (d: number, out: Uint32Array, at: number) => {
    for (let b = 0; b < bands; b++) out[at + b] = bandKey(sig, d * numPerm, b, rows);
  };
  const held: number[] = [];
  for (let i = 0; i < n; i++) if (!isTrain[i]) held.push(i);
  const heldSig = new Uint32Array(held.length * numPerm);
  const heldKeys = new Uint32Array(held.length * bands);
  const heldEligible = new Uint8Array(held.length);
  held.forEach((d, k) => {
    heldSig.set(sig.subarray(d * numPerm, (d + 1) * numPerm), k * numPerm);
    keysOf(d, heldKeys, k * bands);
    heldEligible[k] = o.eligible ? o.eligible[d]! : 1;
  });
  const index = new HeldOutIndex<number>(heldSig, heldKeys, held.length, heldEligible, o);
  const keys = new Uint32Array(bands);
  let rank = 0;
  for (let i = 0; i < n; i++) {
    if (!isTrain[i] || (o.eligible && !o.eligible[i])) continue;
    keysOf(i, keys, 0);
    index.offer(sig, i * numPerm, keys, 0, rank++, i);
  }
  const match = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n);
  held.forEach((d, k) => {
    if (index.match[k]! < 0) return;
    match[d] = index.matchTag[k]!;
    similarity[d] = index.similarity[k]!;
  });
  return { match, similarity };
}
