import { mix32 } from './hash32.js';
import type { Runs } from './runs.js';

export interface TemplateRule {
  /** Word n-gram length of the hashes in `templates`. */
  ngram: number;
  /** An n-gram is frequent when more than this many other documents hold it. */
  maxOthers: number;
  /** Share of a document's words that frequent n-grams must cover for it to be templated. */
  minCoverage: number;
}

export interface TemplateFamily {
  /** Index of the family's first document (in the order documents were given). */
  first: number;
  count: number;
}

export interface TemplatedDocuments {
  templated: Uint8Array;
  /** family[i]: index into families of a templated document, -1 otherwise. */
  family: Int32Array;
  /** Largest first, then by first document. */
  families: TemplateFamily[];
  frequentNgrams: number;
}

/**
 * The templated-prompt rule. A word n-gram is frequent when more than maxOthers other
 * documents hold it; a document is templated when its frequent n-grams cover at least
 * minCoverage of its words. One shared phrase ("can you help me write a", "as an AI
 * language model") covers a small part of an ordinary prompt, so it no longer condemns
 * it; a form filled in with a few words is covered almost whole.
 *
 * templates.view(d) are document d's n-gram hashes in text order.
 * A family is the set of templated documents whose smallest frequent n-gram hash is the
 * same: instances of one template share their fixed text, whatever fills the slots; only a
 * family of more than maxOthers + 1 documents counts.
 */
export function templatedDocuments(templates: Runs, rule: TemplateRule): TemplatedDocuments {
  const n = templates.n;
  // An n-gram held by more than maxOthers other documents occurs more than maxOthers + 1
  // times in all; those few thousand candidates then have their document frequency counted
  // exactly (a document counts once).
  const candidates = valuesOccurringAtLeast(templates, rule.maxOthers + 2);
  const table = new HashIndex(candidates);
  const lastDoc = new Int32Array(candidates.length).fill(-1);
  const df = new Int32Array(candidates.length);
  for (let d = 0; d < n; d++) {
    const v = templates.values(d);
    const a = templates.start[d]!;
    for (let k = a; k < a + templates.len[d]!; k++) {
      const c = table.indexOf(v[k]!);
      if (c >= 0 && lastDoc[c] !== d) {
        lastDoc[c] = d;
        df[c]!++;
      }
    }
  }
  const isFrequent = new Uint8Array(candidates.length);
  let frequentNgrams = 0;
  for (let c = 0; c < candidates.length; c++) {
    if (df[c]! - 1 > rule.maxOthers) {
      isFrequent[c] = 1;
      frequentNgrams++;
    }
  }
  const templated = new Uint8Array(n);
  const family = new Int32Array(n).fill(-1);
  const families: TemplateFamily[] = [];
  if (frequentNgrams === 0) return { templated, family, families, frequentNgrams: 0 };
  const byKey = new Map<number, number>();
  const w = rule.ngram;
  for (let d = 0; d < n; d++) {
    const tv = templates.values(d);
    const a = templates.start[d]!;
    const b = a + templates.len[d]!;
    if (b === a) continue;
    const words = b - a + w - 1;
    let covered = 0;
    let reach = 0; // words before this index are counted already
    let key = -1;
    for (let k = a; k < b; k++) {
      const h = tv[k]!;
      const c = table.indexOf(h);
      if (c < 0 || !isFrequent[c]) continue;
      const start = k - a;
      const end = start + w;
      covered += end - Math.max(start, reach);
      reach = end;
      if (key < 0 || h < key) key = h;
    }
    if (key < 0 || covered < rule.minCoverage * words) continue;
    templated[d] = 1;
    let f = byKey.get(key);
    if (f === undefined) {
      f = families.length;
      byKey.set(key, f);
      families.push({ first: d, count: 0 });
    }
    families[f]!.count++;
    family[d] = f;
  }
  // A template is a form many conversations fill in: a family no larger than maxOthers + 1 is
  // a stock phrase plus common words that happen to cover a short prompt (at 1M synthetic
  // conversations, 33 such families of 2-12 prompts held every false positive), not a form.
  const big = new Uint8Array(families.length);
  for (let f = 0; f < families.length; f++) big[f] = families[f]!.count > rule.maxOthers ? 1 : 0;
  for (let d = 0; d < n; d++) {
    if (family[d]! >= 0 && !big[family[d]!]) {
      templated[d] = 0;
      family[d] = -1;
    }
  }
  const kept = families.map((_, i) => i).filter((f) => big[f]);
  // Renumber so that family 0 is the largest (ties: earliest first document).
  const order = kept.sort((x, y) => families[y]!.count - families[x]!.count || families[x]!.first - families[y]!.first);
  const rank = new Int32Array(families.length).fill(-1);
  order.forEach((f, r) => (rank[f] = r));
  for (let d = 0; d < n; d++) if (family[d]! >= 0) family[d] = rank[family[d]!]!;
  return { templated, family, families: order.map((f) => families[f]!), frequentNgrams };
}

/**
 * The distinct values occurring at least minCount times in all runs, ascending. Two passes
 * and no copy of the values: occurrences are first counted per hash bucket (saturating
 * 16-bit counters, one bucket per bar / 8 occurrences up to 2^26), then counted exactly in a
 * small table, for the values of buckets that reached minCount only. A radix sort of every
 * occurrence gave the same set, but held two copies of all of them (1.6 GB at 3M
 * conversations).
 */
export function valuesOccurringAtLeast(runs: Runs, minCount: number): Uint32Array {
  const total = runs.total();
  // A saturated counter may hide any count above it.
  const bar = Math.min(minCount, 0xffff);
  // Buckets enough for a mean load of bar / 8 (a bucket of chance collisions then reaches bar
  // about never), up to 2^26: at bar 102 and 17M occurrences that is 2^21 counters, 4 MB,
  // which stay in cache; 2^26 of them (128 MB) made each increment a memory miss (the
  // counting pass 3x slower in a microbenchmark of 1M documents).
  let bits = 10;
  while (bits < 26 && (1 << bits) * bar < total * 8) bits++;
  const mask = (1 << bits) - 1;
  const buckets = new Uint16Array(1 << bits);
  const n = runs.n;
  for (let d = 0; d < n; d++) {
    const v = runs.values(d);
    const a = runs.start[d]!;
    const e = a + runs.len[d]!;
    for (let k = a; k < e; k++) {
      const b = mix32(v[k]!) & mask;
      if (buckets[b]! < 0xffff) buckets[b]!++;
    }
  }
  const counts = new CountTable();
  for (let d = 0; d < n; d++) {
    const v = runs.values(d);
    const a = runs.start[d]!;
    const e = a + runs.len[d]!;
    for (let k = a; k < e; k++) if (buckets[mix32(v[k]!) & mask]! >= bar) counts.add(v[k]!);
  }
  return counts.atLeast(minCount).sort();
}

/** Occurrence counts of 32-bit values, by open addressing on typed arrays, growing at half full. */
class CountTable {
  private keys = new Uint32Array(1024);
  private counts = new Uint32Array(1024);
  private size = 0;

  add(v: number): void {
    let mask = this.keys.length - 1;
    // A different hash from the buckets' (mix32's low bits), which these values share.
    let h = mix32(v ^ 0x5bd1e995) & mask;
    for (;;) {
      const c = this.counts[h]!;
      if (c === 0) break;
      if (this.keys[h] === v) {
        this.counts[h] = c + 1;
        return;
      }
      h = (h + 1) & mask;
    }
    this.keys[h] = v;
    this.counts[h] = 1;
    if (++this.size * 2 > this.keys.length) {
      const keys = this.keys;
      const counts = this.counts;
      this.keys = new Uint32Array(keys.length * 2);
      this.counts = new Uint32Array(keys.length * 2);
      mask = this.keys.length - 1;
      for (let s = 0; s < keys.length; s++) {
        if (counts[s] === 0) continue;
        let g = mix32(keys[s]! ^ 0x5bd1e995) & mask;
        while (this.counts[g] !== 0) g = (g + 1) & mask;
        this.keys[g] = keys[s]!;
        this.counts[g] = counts[s]!;
      }
    }
  }

  atLeast(minCount: number): Uint32Array {
    const out: number[] = [];
    for (let s = 0; s < this.keys.length; s++) if (this.counts[s]! >= minCount) out.push(this.keys[s]!);
    return Uint32Array.from(out);
  }
}

/** Position of a value among distinct keys, by open addressing on typed arrays; -1 when absent. */
class HashIndex {
  private readonly mask: number;
  /** slot -> index + 1 (0: empty). */
  private readonly slots: Int32Array;

  constructor(private readonly keys: Uint32Array) {
    let size = 16;
    while (size < 2 * keys.length) size *= 2;
    this.mask = size - 1;
    this.slots = new Int32Array(size);
    for (let i = 0; i < keys.length; i++) {
      let h = mix32(keys[i]!) & this.mask;
      while (this.slots[h] !== 0) h = (h + 1) & this.mask;
      this.slots[h] = i + 1;
    }
  }

  indexOf(v: number): number {
    let h = mix32(v) & this.mask;
    for (;;) {
      const s = this.slots[h]!;
      if (s === 0) return -1;
      if (this.keys[s - 1] === v) return s - 1;
      h = (h + 1) & this.mask;
    }
  }
}
