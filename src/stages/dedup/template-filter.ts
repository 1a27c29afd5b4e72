import { mix32 } from './hash32.js';
import { radixSortValues } from './radix-sort.js';

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
 * templates[offsets[d] .. offsets[d+1]) are document d's n-gram hashes in text order.
 * A family is the set of templated documents whose smallest frequent n-gram hash is the
 * same: instances of one template share their fixed text, whatever fills the slots; only a
 * family of more than maxOthers + 1 documents counts.
 */
export function templatedDocuments(templates: Uint32Array, offsets: Uint32Array, n: number, rule: TemplateRule): TemplatedDocuments {
  // An n-gram held by more than maxOthers other documents occurs more than maxOthers + 1
  // times in all: one radix sort of every occurrence leaves a few thousand candidates, whose
  // document frequency is then counted exactly (a document counts once). Deduplicating each
  // document's n-grams first (a million small sorts) cost most of this rule's time.
  const sorted = radixSortValues(templates);
  const candidates: number[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i + 1;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i - 1 > rule.maxOthers) candidates.push(sorted[i]!);
    i = j;
  }
  const table = new HashIndex(Uint32Array.from(candidates));
  const lastDoc = new Int32Array(candidates.length).fill(-1);
  const df = new Int32Array(candidates.length);
  for (let d = 0; d < n; d++) {
    for (let k = offsets[d]!; k < offsets[d + 1]!; k++) {
      const c = table.indexOf(templates[k]!);
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
    const a = offsets[d]!;
    const b = offsets[d + 1]!;
    if (b === a) continue;
    const words = b - a + w - 1;
    let covered = 0;
    let reach = 0; // words before this index are counted already
    let key = -1;
    for (let k = a; k < b; k++) {
      const h = templates[k]!;
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
