// Near-dedup's measure: how much of a text is the same, word for word and in order.
// Measured on real WildChat prompts (make bench), a Jaccard threshold cannot be right for both
// a 6-word and a 60-word prompt: one substituted word takes a 6-word prompt's word 2-gram
// Jaccard to 0.43 and a 60-word one's to 0.94. An edit ratio is length-adaptive by itself.

let prev = new Int32Array(256);
let cur = new Int32Array(256);

/**
 * 1 - (word-level Levenshtein distance) / (words of the longer text), over word hashes.
 * Exact when the result is >= floor; below floor, an upper bound that is still < floor
 * (the distance is only computed inside a band of floor's width), so ranking pairs near the
 * threshold is exact and far pairs cost O(band x length). Two empty texts: 1.
 */
export function wordEditSimilarity(a: Uint32Array, b: Uint32Array, floor: number): number {
  return wordEditSimilarityAt(a, 0, a.length, b, 0, b.length, floor);
}

/** wordEditSimilarity of a[a0 .. a0+la) and b[b0 .. b0+lb), without a view per call (the LSH step makes millions). */
export function wordEditSimilarityAt(a: Uint32Array, a0: number, la: number, b: Uint32Array, b0: number, lb: number, floor: number): number {
  const m = la > lb ? la : lb;
  if (m === 0) return 1;
  // The most edits that can still reach floor; a length difference beyond it is decided
  // before reading a word (most LSH candidates among short prompts end here).
  const k = Math.floor((1 - floor) * m + 1e-9);
  const lengthDiff = la > lb ? la - lb : lb - la;
  if (lengthDiff > k) return 1 - lengthDiff / m;
  let p = 0;
  const lmin = la < lb ? la : lb;
  while (p < lmin && a[a0 + p] === b[b0 + p]) p++;
  let s = 0;
  while (s < lmin - p && a[a0 + la - 1 - s] === b[b0 + lb - 1 - s]) s++;
  if (p === la && p === lb) return 1;
  const x0 = a0 + p;
  const y0 = b0 + p;
  const nx = la - p - s;
  const ny = lb - p - s;
  const diff = nx > ny ? nx - ny : ny - nx;
  if (nx === 0 || ny === 0) return 1 - diff / m;
  if (diff > k) return 1 - diff / m;
  // A long pair's band costs nx x 2k cells; counting words first costs nx + ny. Every edit
  // fixes at most one surplus word on each side, so the larger multiset surplus is a lower
  // bound on the distance: past k, the pair cannot reach floor (code pastes that share most
  // of their vocabulary but little of their order end here in one pass).
  if (nx * k > BAG_FIRST_CELLS) {
    const surplus = bagSurplus(a, x0, nx, b, y0, ny, false);
    if (surplus > k) return 1 - surplus / m;
    // Same vocabulary, maybe not in the same order (two long texts of common words): an
    // edit changes at most 2 of a text's word 2-grams (Ukkonen's q-gram lemma), so
    // d >= (max(nx, ny) - 1 - common 2-grams) / 2 = (2-gram surplus) / 2. The band would
    // need more than k rows (2k^2 cells) to give up on such a pair; this bound costs nx + ny.
    // On the 1M realistic bench corpus it turned away almost every long candidate that
    // passed the word count.
    const bound = Math.ceil(bagSurplus(a, x0, nx, b, y0, ny, true) / 2);
    if (bound > k) return 1 - bound / m;
  }
  if (prev.length < ny + 1) {
    prev = new Int32Array(2 * ny + 2);
    cur = new Int32Array(2 * ny + 2);
  }
  const big = k + 1;
  // Ukkonen's band: only cells with |i - j| <= k can hold a distance <= k.
  for (let j = 0; j <= ny; j++) prev[j] = j <= k ? j : big;
  for (let i = 1; i <= nx; i++) {
    const lo = i - k > 1 ? i - k : 1;
    const hi = i + k < ny ? i + k : ny;
    cur[lo - 1] = lo - 1 === 0 ? (i <= k ? i : big) : big;
    let rowMin = cur[lo - 1]!;
    const xi = a[x0 + i - 1];
    for (let j = lo; j <= hi; j++) {
      let v = prev[j - 1]! + (xi === b[y0 + j - 1] ? 0 : 1);
      const del = prev[j]! + 1;
      const ins = cur[j - 1]! + 1;
      if (del < v) v = del;
      if (ins < v) v = ins;
      if (v > big) v = big;
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (hi < ny) cur[hi + 1] = big;
    if (rowMin > k) return 1 - big / m;
    const t = prev;
    prev = cur;
    cur = t;
  }
  const d = prev[ny]!;
  return d > k ? 1 - big / m : 1 - d / m;
}

/** Above this many band cells, the word-count bound is tried first. */
const BAG_FIRST_CELLS = 4096;

let bagKeys = new Uint32Array(1024);
let bagCounts = new Int32Array(1024);
let bagStamp = new Uint32Array(1024);
let stamp = 0;

/**
 * max(words of x not matched in y, words of y not matched in x), as multisets: a lower bound
 * on the word edit distance. With pairs: the same over word 2-grams (by a hash of the two
 * words; a collision only makes the surplus smaller, so every bound built on it still holds).
 * Open addressing over reused arrays, cleared by a stamp.
 */
function bagSurplus(a: Uint32Array, x0: number, nx: number, b: Uint32Array, y0: number, ny: number, pairs: boolean): number {
  let size = bagKeys.length;
  if (size < 2 * (nx + ny)) {
    while (size < 2 * (nx + ny)) size *= 2;
    bagKeys = new Uint32Array(size);
    bagCounts = new Int32Array(size);
    bagStamp = new Uint32Array(size);
    stamp = 0;
  }
  if (++stamp === 0xffffffff) {
    bagStamp.fill(0);
    stamp = 1;
  }
  const mask = size - 1;
  const slot = (w: number): number => {
    let s = Math.imul(w, 0x9e3779b1) >>> 0 & mask;
    while (bagStamp[s] === stamp && bagKeys[s] !== w) s = (s + 1) & mask;
    if (bagStamp[s] !== stamp) {
      bagStamp[s] = stamp;
      bagKeys[s] = w;
      bagCounts[s] = 0;
    }
    return s;
  };
  const pair = (w: Uint32Array, at: number): number => (Math.imul(w[at]!, 0x85ebca6b) ^ w[at + 1]!) >>> 0;
  const ux = pairs ? nx - 1 : nx;
  const uy = pairs ? ny - 1 : ny;
  for (let i = 0; i < ux; i++) bagCounts[slot(pairs ? pair(a, x0 + i) : a[x0 + i]!)]!++;
  let onlyY = 0;
  for (let j = 0; j < uy; j++) {
    const s = slot(pairs ? pair(b, y0 + j) : b[y0 + j]!);
    if (bagCounts[s]! > 0) bagCounts[s]!--;
    else onlyY++;
  }
  // Units of x left unmatched: ux - (uy - onlyY).
  const onlyX = ux - (uy - onlyY);
  return onlyX > onlyY ? onlyX : onlyY;
}
