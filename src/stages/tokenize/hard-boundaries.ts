// Where byte-level BPE can never merge across, for text in three-byte characters (Chinese,
// Japanese, Korean, Thai: U+0800..U+FFFF). Unspaced Chinese makes pre-tokens of whole clauses
// that almost never repeat, so the cache cannot help and each one is merged from its bytes,
// several times slower per character than any other script. But a clause is mostly words the
// vocabulary knows, joined at places no token spans.
//
// Why splitting there is exact: every merge makes a vocabulary token out of contiguous bytes of
// the pre-token. If no vocabulary token can cover the last byte of character X and the first
// byte of the next character Y at once, no merge ever joins symbols across that boundary, the
// merges on either side never compete for a symbol, and so the merged result is the two sides'
// results, each merged alone, side by side. Whether some token can cross X|Y is decided once,
// from the vocabulary: each token, cut at each place that could fall between two three-byte
// characters, names the X it could end with and the Y it could start with (all the characters
// that share its partial bytes, when the cut leaves less than a whole character on a side). The
// test is an over-approximation (it looks only at X and Y, not further out), which can only
// leave a boundary soft, never wrongly hard.

/** Is the UTF-16 unit a whole three-byte character (not ASCII, not two-byte, not a surrogate half)? */
export function isThreeByte(c: number): boolean {
  return c >= 0x800 && (c < 0xd800 || c > 0xdfff);
}

const isLead3 = (b: number) => b >= 0xe0 && b <= 0xef;
const isCont = (b: number) => b >= 0x80 && b <= 0xbf;

/** Three-byte characters whose UTF-8 ends with (suffix) or starts with (prefix) the given one or two bytes. */
function charsWith(bytes: number[], at: 'end' | 'start'): number[] {
  // A three-byte character is 1110aaaa 10bbbbbb 10cccccc: a 4-bit, then two 6-bit fields.
  const out: number[] = [];
  const push = (c: number) => {
    if (isThreeByte(c)) out.push(c);
  };
  if (at === 'end' && bytes.length === 1) for (let hi = 0; hi < 1 << 10; hi++) push((hi << 6) | (bytes[0]! & 63));
  else if (at === 'end') for (let a = 0; a < 16; a++) push((a << 12) | ((bytes[0]! & 63) << 6) | (bytes[1]! & 63));
  else if (bytes.length === 1) for (let lo = 0; lo < 1 << 12; lo++) push(((bytes[0]! & 15) << 12) | lo);
  else for (let c = 0; c < 64; c++) push(((bytes[0]! & 15) << 12) | ((bytes[1]! & 63) << 6) | c);
  return out;
}

/** The boundaries between adjacent three-byte characters that some vocabulary token may cross. */
export class SoftBoundaries {
  /** Open addressing over keys X << 16 | Y (never 0: X >= 0x800). */
  private readonly keys: Int32Array;
  private readonly mask: number;
  private readonly shift: number;

  private constructor(
    pairs: Set<number>,
    /** Tokens cut with part of a character on both sides (a few): their bytes, checked as they are. */
    private readonly partial: { left: number[]; right: number[] }[],
  ) {
    let bits = 4;
    while (1 << bits < pairs.size * 2) bits++;
    this.keys = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    for (const k of pairs) {
      let s = this.slot(k);
      while (this.keys[s] !== 0) s = (s + 1) & this.mask;
      this.keys[s] = k;
    }
  }

  /** The top bits of a multiplicative hash (the low bits of X << 16 | Y barely mix). */
  private slot(k: number): number {
    return Math.imul(k ^ (k >>> 15), 0x9e3779b1) >>> this.shift;
  }

  /** From the byte sequences of every vocabulary token. */
  static of(tokens: Iterable<Uint8Array | number[]>): SoftBoundaries {
    const pairs = new Set<number>();
    const partial: { left: number[]; right: number[] }[] = [];
    const add = (xs: number[], ys: number[]) => {
      for (const x of xs) for (const y of ys) pairs.add((x << 16) | y);
    };
    for (const t of tokens) {
      for (let k = 1; k < t.length; k++) {
        // The cut between t[k - 1] and t[k] falls between two three-byte characters X and Y.
        if (!isLead3(t[k]!) || !isCont(t[k - 1]!)) continue;
        const left = Array.from(t.slice(Math.max(0, k - 3), k));
        const right = Array.from(t.slice(k, k + 3));
        // A side of three bytes must be one whole character; a shorter one is part of one.
        if (left.length === 3 ? !(isLead3(left[0]!) && isCont(left[1]!)) : !left.every(isCont)) continue;
        if (!right.slice(1).every(isCont)) continue;
        if (left.length < 3 && right.length < 3) {
          // Thousands of characters on each side: kept as bytes rather than as every pair.
          partial.push({ left, right });
          continue;
        }
        const xs = left.length === 3 ? [((left[0]! & 15) << 12) | ((left[1]! & 63) << 6) | (left[2]! & 63)] : charsWith(left, 'end');
        const ys = right.length === 3 ? [((right[0]! & 15) << 12) | ((right[1]! & 63) << 6) | (right[2]! & 63)] : charsWith(right, 'start');
        add(xs.filter(isThreeByte), ys.filter(isThreeByte));
      }
    }
    return new SoftBoundaries(pairs, partial);
  }

  /** May a token cross between the three-byte characters x and y? */
  soft(x: number, y: number): boolean {
    const k = (x << 16) | y;
    for (let s = this.slot(k); ; s = (s + 1) & this.mask) {
      const v = this.keys[s]!;
      if (v === k) return true;
      if (v === 0) break;
    }
    // No arrays here: this runs at nearly every boundary of a Chinese clause.
    const x2 = 0x80 | ((x >> 6) & 63);
    const x3 = 0x80 | (x & 63);
    const y1 = 0xe0 | (y >> 12);
    const y2 = 0x80 | ((y >> 6) & 63);
    for (const r of this.partial) {
      const l = r.left;
      const m = r.right;
      if (l[l.length - 1] !== x3 || (l.length === 2 && l[0] !== x2)) continue;
      if (m[0] !== y1 || (m.length === 2 && m[1] !== y2)) continue;
      return true;
    }
    return false;
  }
}
