/**
 * Token counts of pre-tokens, keyed by their UTF-16 code units read straight from the text
 * they occur in, so a hit costs a hash, one slot and a compare, and makes no string. Open
 * addressing over one typed array (a slot's fields side by side: one memory access per probe);
 * keys are copied into one pool. Bounded: when the table or the pool fills, the entries hit
 * since the last sweep are kept and the rest let go (chat text has a long tail of one-off
 * pre-tokens, and unspaced Chinese is nearly all one-offs). What it holds never changes a
 * count, only how fast it comes.
 */
export class SpanCache {
  /** Per slot: hash, key length (bit 16: hit since the last sweep; 0: empty), key start in the pool, count. */
  private slots: Int32Array;
  private readonly mask: number;
  private pool: Uint16Array;
  private used = 0;
  private poolUsed = 0;

  /** The longest key cached (longer spans are rare repeats and costly to compare). */
  static readonly MAX_KEY = 256;

  constructor(
    private readonly entries = 1 << 20,
    poolUnits = 1 << 23,
  ) {
    this.slots = new Int32Array(entries * 2 * 4);
    this.mask = entries * 2 - 1;
    this.pool = new Uint16Array(poolUnits);
  }

  static hash(text: string, from: number, to: number): number {
    let h = 0x811c9dc5 ^ (to - from);
    for (let i = from; i < to; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return h ^ (h >>> 15);
  }

  /**
   * A small direct-mapped table in front, for keys of up to 8 units held in the slot itself:
   * chat text's common words fit in the CPU's cache there, where the main table (tens of MB)
   * costs a memory access per lookup. Per slot: hash, length (0: empty), count, 4 ints of key.
   */
  private readonly near = new Int32Array(NEAR_SLOTS * 8);

  /** The cached count of text[from, to), or -1. */
  get(text: string, from: number, to: number, h: number): number {
    const len = to - from;
    const near = this.near;
    const n = (h & (NEAR_SLOTS - 1)) << 3;
    if (len <= 8 && near[n] === h && near[n + 1] === len) {
      let i = 0;
      while (i < len && near[n + 3 + (i >> 1)]! === pack(text, from + i, to)) i += 2;
      if (i >= len) return near[n + 2]!;
    }
    const c = this.far(text, from, to, h);
    if (c >= 0 && len <= 8) {
      near[n] = h;
      near[n + 1] = len;
      near[n + 2] = c;
      for (let i = 0; i < len; i += 2) near[n + 3 + (i >> 1)] = pack(text, from + i, to);
    }
    return c;
  }

  private far(text: string, from: number, to: number, h: number): number {
    const len = to - from;
    const { pool, slots } = this;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const o = s << 2;
      const l = slots[o + 1]!;
      if (l === 0) return -1;
      if (slots[o] === h && (l & 0xffff) === len) {
        const at = slots[o + 2]!;
        let i = 0;
        while (i < len && pool[at + i] === text.charCodeAt(from + i)) i++;
        if (i === len) {
          slots[o + 1] = l | HIT;
          return slots[o + 3]!;
        }
      }
    }
  }

  set(text: string, from: number, to: number, h: number, count: number): void {
    const len = to - from;
    if (len > SpanCache.MAX_KEY || len === 0) return;
    if (this.used === this.entries || this.poolUsed + len > this.pool.length) this.sweep();
    const at = this.poolUsed;
    for (let i = 0; i < len; i++) this.pool[at + i] = text.charCodeAt(from + i);
    this.poolUsed += len;
    this.place(h, len, at, count);
  }

  private place(h: number, len: number, at: number, count: number): void {
    const slots = this.slots;
    let s = h & this.mask;
    while (slots[(s << 2) + 1] !== 0) s = (s + 1) & this.mask;
    const o = s << 2;
    slots[o] = h;
    slots[o + 1] = len;
    slots[o + 2] = at;
    slots[o + 3] = count;
    this.used++;
  }

  /** Keeps the entries hit since the last sweep (unmarked), drops the others; compacts the pool. */
  private sweep(): void {
    const old = this.slots;
    const oldPool = this.pool;
    this.slots = new Int32Array(old.length);
    this.pool = new Uint16Array(oldPool.length);
    this.used = 0;
    this.poolUsed = 0;
    // Kept entries fill at most half the table and pool, or the next sweep would come at once.
    const room = this.entries >> 1;
    const poolRoom = oldPool.length >> 1;
    for (let o = 0; o < old.length && this.used < room; o += 4) {
      const l = old[o + 1]!;
      if ((l & HIT) === 0) continue;
      const len = l & 0xffff;
      if (this.poolUsed + len > poolRoom) break;
      const at = this.poolUsed;
      this.pool.set(oldPool.subarray(old[o + 2]!, old[o + 2]! + len), at);
      this.poolUsed += len;
      this.place(old[o]!, len, at, old[o + 3]!);
    }
  }
}

const HIT = 1 << 16;
const NEAR_SLOTS = 1 << 14;

/** Units i and i + 1 of text (the second 0 past the key's end) as one int. */
function pack(text: string, i: number, to: number): number {
  return text.charCodeAt(i) | (i + 1 < to ? text.charCodeAt(i + 1) << 16 : 0);
}
