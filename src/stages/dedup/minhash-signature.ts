import { combine32, mix32 } from './hash32.js';
import { mulberry32 } from '../../core/seeded-random.js';

export type MinhashMethod = 'oph' | 'kperm';

export interface MinhashParams {
  numPerm: number;
  seed: number;
  /**
   * oph: one-permutation hashing with optimal densification (one hash per shingle);
   * kperm: numPerm independent affine hashes (one per shingle per permutation).
   */
  method: MinhashMethod;
}

const EMPTY = 0xffffffff;
const TWO32 = 4294967296;

/** MinHash signatures on typed arrays; one instance per worker, reused for every document. */
export class MinHasher {
  readonly numPerm: number;
  private readonly method: MinhashMethod;
  private readonly seedMix: number;
  private readonly a: Uint32Array;
  private readonly b: Uint32Array;
  private readonly filled: Uint8Array;
  /** For densification: the bins an empty bin tries, in order (the same for every document). */
  private readonly probe: Uint16Array;
  private static readonly PROBES = 48;

  constructor(p: MinhashParams) {
    if (!Number.isInteger(p.numPerm) || p.numPerm < 1 || p.numPerm > 4096) throw new RangeError(`numPerm must be 1..4096 (got ${p.numPerm})`);
    this.numPerm = p.numPerm;
    this.method = p.method;
    this.seedMix = mix32(p.seed ^ 0x5bd1e995);
    const rnd = mulberry32(p.seed);
    this.a = new Uint32Array(p.numPerm);
    this.b = new Uint32Array(p.numPerm);
    for (let k = 0; k < p.numPerm; k++) {
      this.a[k] = (rnd() | 1) >>> 0;
      this.b[k] = rnd();
    }
    this.filled = new Uint8Array(p.numPerm);
    this.probe = new Uint16Array(p.numPerm * MinHasher.PROBES);
    for (let bin = 0; bin < p.numPerm; bin++) {
      for (let a = 0; a < MinHasher.PROBES; a++) this.probe[bin * MinHasher.PROBES + a] = this.probeBin(bin, a + 1);
    }
  }

  private probeBin(bin: number, attempt: number): number {
    return Math.floor((mix32(combine32(combine32(this.seedMix, bin), attempt)) * this.numPerm) / TWO32);
  }


  /**
   * Write the signature of a set of shingle hashes into out[offset .. offset+numPerm).
   * Returns false (and writes all-ones) for an empty set.
   */
  sign(shingles: Uint32Array, out: Uint32Array, offset = 0): boolean {
    const K = this.numPerm;
    out.fill(EMPTY, offset, offset + K);
    if (shingles.length === 0) return false;
    if (this.method === 'kperm') {
      for (let i = 0; i < shingles.length; i++) {
        const x = mix32(shingles[i]!);
        for (let k = 0; k < K; k++) {
          const v = (Math.imul(this.a[k]!, x) + this.b[k]!) >>> 0;
          if (v < out[offset + k]!) out[offset + k] = v;
        }
      }
      return true;
    }
    const filled = this.filled;
    filled.fill(0);
    for (let i = 0; i < shingles.length; i++) {
      const v = mix32(shingles[i]! ^ this.seedMix);
      const bin = Math.floor((v * K) / TWO32);
      if (v < out[offset + bin]! || !filled[bin]) {
        out[offset + bin] = v;
        filled[bin] = 1;
      }
    }
    // Optimal densification (Shrivastava, 2017): an empty bin borrows the value of a bin
    // chosen by a hash of (bin, attempt), so equal sets stay equal and estimates unbiased.
    // The probe sequence is precomputed, so a short text (most bins empty) costs a few
    // table reads per empty bin instead of a few hashes. A bin whose probes all miss (texts
    // of a handful of shingles) takes the next filled bin clockwise: still a function of the
    // set alone, in O(K) for the whole signature.
    const P = MinHasher.PROBES;
    const probe = this.probe;
    let missed = false;
    for (let bin = 0; bin < K; bin++) {
      if (filled[bin]) continue;
      let j = -1;
      const base = bin * P;
      for (let a = 0; a < P; a++) {
        const c = probe[base + a]!;
        if (filled[c]) {
          j = c;
          break;
        }
      }
      if (j >= 0) out[offset + bin] = out[offset + j]!;
      else missed = true;
    }
    if (missed) {
      let next = -1;
      for (let k = 2 * K - 1; k >= 0; k--) {
        const bin = k % K;
        if (filled[bin]) next = bin;
        else if (k < K && out[offset + bin] === EMPTY) out[offset + bin] = out[offset + next]!;
      }
    }
    return true;
  }
}

/** Share of equal positions: the MinHash estimate of Jaccard similarity. */
export function estimateJaccard(sig: Uint32Array, i: number, j: number, numPerm: number): number {
  const a = i * numPerm;
  const b = j * numPerm;
  let eq = 0;
  for (let k = 0; k < numPerm; k++) if (sig[a + k] === sig[b + k]) eq++;
  return eq / numPerm;
}

/** Exact Jaccard similarity of two sets of hashes (for tests and the benchmark's ground truth). */
export function exactJaccard(x: Uint32Array, y: Uint32Array): number {
  const a = new Set(x);
  const b = new Set(y);
  let inter = 0;
  for (const v of a) if (b.has(v)) inter++;
  const union = a.size + b.size - inter;
  return union === 0 ? 1 : inter / union;
}
