/**
 * Per-document runs of 32-bit values (word hashes, template n-gram hashes), left in the
 * arrays the sketch batches produced them in: run i is
 * segments[seg[i]][start[i] .. start[i] + len[i]). Putting documents in another order
 * (dedup's keeper priority) permutes three small per-document arrays, never the values.
 * At 3M conversations the values are ~2 GB, and before this a concatenated copy and a
 * gathered copy of them were alive beside the batches at dedup's peak (6.6 GiB).
 */
export class Runs {
  constructor(
    readonly segments: Uint32Array[],
    readonly seg: Uint32Array,
    readonly start: Uint32Array,
    readonly len: Uint32Array,
  ) {
    if (seg.length !== len.length || start.length !== len.length) throw new RangeError('runs: per-document arrays differ in length');
  }

  /** Documents. */
  get n(): number {
    return this.len.length;
  }

  /** The array run i lies in (read it from start[i] for len[i] values). */
  values(i: number): Uint32Array {
    return this.segments[this.seg[i]!]!;
  }

  view(i: number): Uint32Array {
    const s = this.start[i]!;
    return this.segments[this.seg[i]!]!.subarray(s, s + this.len[i]!);
  }

  /** Values in all runs. */
  total(): number {
    let t = 0;
    for (let i = 0; i < this.len.length; i++) t += this.len[i]!;
    return t;
  }

  /** Runs of documents order[0], order[1], ...: the same values, not copied. */
  gather(order: ArrayLike<number>): Runs {
    const m = order.length;
    const seg = new Uint32Array(m);
    const start = new Uint32Array(m);
    const len = new Uint32Array(m);
    for (let p = 0; p < m; p++) {
      const d = order[p]!;
      seg[p] = this.seg[d]!;
      start[p] = this.start[d]!;
      len[p] = this.len[d]!;
    }
    return new Runs(this.segments, seg, start, len);
  }

  /** Runs over one array: run i is values[offsets[i] .. offsets[i+1]). */
  static fromOffsets(values: Uint32Array, offsets: Uint32Array): Runs {
    const n = offsets.length - 1;
    const start = offsets.slice(0, n);
    const len = new Uint32Array(n);
    for (let i = 0; i < n; i++) len[i] = offsets[i + 1]! - offsets[i]!;
    return new Runs([values], new Uint32Array(n), start, len);
  }

  /** n empty runs. */
  static empty(n: number): Runs {
    return new Runs([new Uint32Array(0)], new Uint32Array(n), new Uint32Array(n), new Uint32Array(n));
  }

  /** The runs concatenated, with offsets (tests and small inputs). */
  flat(): { values: Uint32Array; offsets: Uint32Array } {
    const offsets = new Uint32Array(this.n + 1);
    for (let i = 0; i < this.n; i++) offsets[i + 1] = offsets[i]! + this.len[i]!;
    const values = new Uint32Array(offsets[this.n]!);
    for (let i = 0; i < this.n; i++) values.set(this.view(i), offsets[i]!);
    return { values, offsets };
  }
}
