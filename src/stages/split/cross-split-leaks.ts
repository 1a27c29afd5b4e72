import { forEachBucket } from '../dedup/lsh-clusters.js';
import { estimateJaccard } from '../dedup/minhash-signature.js';

export interface LeakOptions {
  numPerm: number;
  bands: number;
  rows: number;
  threshold: number;
  eligible?: Uint8Array;
  /** Training documents compared per bucket, so one huge bucket stays cheap. */
  maxTrainPerBucket?: number;
}

/**
 * For every held-out document (isTrain[i] = 0), the most similar training document among
 * its LSH candidates whose estimated Jaccard reaches the threshold: match[i] (or -1) and
 * similarity[i].
 */
export function crossSplitLeaks(sig: Uint32Array, n: number, isTrain: Uint8Array, o: LeakOptions): { match: Int32Array; similarity: Float32Array } {
  const match = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n);
  const cap = o.maxTrainPerBucket ?? 64;
  const train: number[] = [];
  forEachBucket(sig, n, o, (order, start, end) => {
    train.length = 0;
    let held = 0;
    for (let k = start; k < end; k++) {
      const d = order[k]!;
      if (isTrain[d]) {
        if (train.length < cap) train.push(d);
      } else held++;
    }
    if (train.length === 0 || held === 0) return;
    for (let k = start; k < end; k++) {
      const d = order[k]!;
      if (isTrain[d]) continue;
      for (const t of train) {
        const s = estimateJaccard(sig, d, t, o.numPerm);
        if (s >= o.threshold && (s > similarity[d]! || (s === similarity[d]! && t < match[d]!))) {
          similarity[d] = s;
          match[d] = t;
        }
      }
    }
  });
  return { match, similarity };
}
