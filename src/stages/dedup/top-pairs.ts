/** Two documents (by index) and how similar they are. */
export interface ScoredPair {
  a: number;
  b: number;
  similarity: number;
}

/**
 * The `size` best distinct pairs seen, exactly, whatever order they come in: highest
 * similarity first when `high`, else lowest; ties by (a, b). A bounded heap whose root is the
 * worst pair kept, so a pair that cannot enter costs one comparison, and `bar()` tells the
 * caller how similar a pair must be to enter (near-dedup computes a candidate's similarity
 * exactly only down to it: at 1M conversations, 20M failed candidates and the sort of a
 * string-keyed pool every 1,600 of them cost more than the edit distances themselves).
 * A pair offered twice keeps its first similarity.
 */
export class TopPairs {
  private readonly sim: Float64Array;
  private readonly pa: Int32Array;
  private readonly pb: Int32Array;
  private count = 0;
  private readonly members = new Set<string>();

  constructor(
    readonly size: number,
    private readonly high: boolean,
  ) {
    this.sim = new Float64Array(size);
    this.pa = new Int32Array(size);
    this.pb = new Int32Array(size);
  }

  /** x ranks after y (is worse). */
  private worse(s: number, a: number, b: number, t: number, c: number, d: number): boolean {
    if (s !== t) return this.high ? s < t : s > t;
    return a !== c ? a > c : b > d;
  }

  private worseAt(i: number, j: number): boolean {
    return this.worse(this.sim[i]!, this.pa[i]!, this.pb[i]!, this.sim[j]!, this.pa[j]!, this.pb[j]!);
  }

  /**
   * The similarity a pair needs to enter (ties then go by indices): -Infinity (high) or
   * +Infinity (low) while there is room.
   */
  bar(): number {
    if (this.count < this.size) return this.high ? -Infinity : Infinity;
    return this.sim[0]!;
  }

  add(i: number, j: number, similarity: number): void {
    if (this.size === 0) return;
    const a = i < j ? i : j;
    const b = i < j ? j : i;
    const full = this.count === this.size;
    if (full && !this.worse(this.sim[0]!, this.pa[0]!, this.pb[0]!, similarity, a, b)) return;
    const key = `${a},${b}`;
    if (this.members.has(key)) return;
    this.members.add(key);
    if (full) {
      this.members.delete(`${this.pa[0]!},${this.pb[0]!}`);
      this.set(0, similarity, a, b);
      this.siftDown(0);
    } else {
      const at = this.count++;
      this.set(at, similarity, a, b);
      this.siftUp(at);
    }
  }

  private set(i: number, s: number, a: number, b: number): void {
    this.sim[i] = s;
    this.pa[i] = a;
    this.pb[i] = b;
  }

  private swap(i: number, j: number): void {
    const s = this.sim[i]!;
    const a = this.pa[i]!;
    const b = this.pb[i]!;
    this.set(i, this.sim[j]!, this.pa[j]!, this.pb[j]!);
    this.set(j, s, a, b);
  }

  // The root is the worst pair kept: a parent is worse than its children.
  private siftUp(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.worseAt(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.count) break;
      let w = l;
      if (l + 1 < this.count && this.worseAt(l + 1, l)) w = l + 1;
      if (!this.worseAt(w, i)) break;
      this.swap(i, w);
      i = w;
    }
  }

  /** The pairs kept, best first. */
  sorted(): ScoredPair[] {
    const out: ScoredPair[] = [];
    for (let i = 0; i < this.count; i++) out.push({ a: this.pa[i]!, b: this.pb[i]!, similarity: this.sim[i]! });
    return out.sort((x, y) => (this.high ? y.similarity - x.similarity : x.similarity - y.similarity) || x.a - y.a || x.b - y.b);
  }
}
