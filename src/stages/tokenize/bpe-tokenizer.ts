import { onigToJsRegex } from './onig-to-js-regex.js';

/** The parts of a Hugging Face tokenizer.json this tokenizer reads. */
export interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean; lstrip?: boolean; rstrip?: boolean; single_word?: boolean }[];
  normalizer?: { type: string } | null;
  pre_tokenizer?: PreTokenizerJson | null;
  model: {
    type: string;
    vocab: Record<string, number>;
    merges: (string | [string, string])[];
    ignore_merges?: boolean;
    byte_fallback?: boolean;
    dropout?: number | null;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
  };
}

interface PreTokenizerJson {
  type: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: { Regex?: string; String?: string };
  behavior?: string;
  invert?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
}

// GPT-2's pattern, which a ByteLevel pre-tokenizer with use_regex applies.
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Byte-level BPE's printable stand-in for each byte (the GPT-2 bytes_to_unicode table). */
function byteLevelAlphabet(): string[] {
  const direct: number[] = [];
  for (let b = 33; b <= 126; b++) direct.push(b);
  for (let b = 161; b <= 172; b++) direct.push(b);
  for (let b = 174; b <= 255; b++) direct.push(b);
  const out = new Array<string>(256);
  for (const b of direct) out[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCharCode(256 + extra++);
  return out;
}

function splitPattern(p: PreTokenizerJson | null | undefined): string {
  const unsupported = () => new Error(`unsupported pre_tokenizer ${JSON.stringify(p)}; byte-level BPE with a Split regex (Llama-3, GPT-2 style) is supported`);
  if (!p) throw unsupported();
  if (p.type === 'ByteLevel' && p.use_regex !== false && !p.add_prefix_space) return GPT2_PATTERN;
  if (p.type !== 'Sequence' || p.pretokenizers?.length !== 2) throw unsupported();
  const [split, byteLevel] = p.pretokenizers as [PreTokenizerJson, PreTokenizerJson];
  if (split.type !== 'Split' || !split.pattern?.Regex || split.behavior !== 'Isolated' || split.invert) throw unsupported();
  if (byteLevel.type !== 'ByteLevel' || byteLevel.use_regex !== false || byteLevel.add_prefix_space) throw unsupported();
  return split.pattern.Regex;
}

const PAIR = 1 << 18; // the largest vocabulary accepted (Llama-3 has 128,257 ids with the end token)

/**
 * An exact byte-level BPE tokenizer for tokenizer.json files shaped like Llama-3's. Counting
 * is the hot path: pre-tokens repeat a lot in chat text, so each distinct pre-token is merged
 * once and its ids are cached; merging works on an Int32Array with a numeric pair table.
 */
export class BpeTokenizer {
  private readonly vocab: Map<string, number>;
  private readonly merges: PairTable;
  private readonly byteIds = new Int32Array(256);
  private readonly byteChars = byteLevelAlphabet();
  private readonly pre: RegExp;
  private readonly special: RegExp | null;
  private readonly specialIds: Map<string, number>;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, Int32Array>();
  private readonly encoder = new TextEncoder();
  /** Largest id in use (vocabulary and added tokens). */
  readonly maxId: number;

  private constructor(json: TokenizerJson, extraSpecial: string[]) {
    const m = json.model;
    if (m.type !== 'BPE') throw new Error(`unsupported model type ${m.type}; only BPE`);
    if (m.byte_fallback || m.dropout || m.continuing_subword_prefix || m.end_of_word_suffix) {
      throw new Error('unsupported BPE options (byte_fallback, dropout, subword prefix or suffix)');
    }
    if (json.normalizer) throw new Error(`unsupported normalizer ${json.normalizer.type}`);
    this.vocab = new Map(Object.entries(m.vocab));
    let maxId = 0;
    for (const id of this.vocab.values()) if (id > maxId) maxId = id;
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(this.byteChars[b]!);
      if (id === undefined) throw new Error('vocabulary lacks a byte-level symbol; not a byte-level BPE');
      this.byteIds[b] = id;
    }
    this.merges = new PairTable(m.merges.length);
    m.merges.forEach((entry, rank) => {
      const [a, b] = typeof entry === 'string' ? (entry.split(' ') as [string, string]) : entry;
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const ic = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || ic === undefined) throw new Error(`merge ${a} ${b} names tokens outside the vocabulary`);
      this.merges.addFirst(ia, ib, rank, ic);
    });
    this.ignoreMerges = m.ignore_merges ?? false;
    this.pre = new RegExp(onigToJsRegex(splitPattern(json.pre_tokenizer)), 'gu');
    this.specialIds = new Map();
    for (const t of json.added_tokens ?? []) {
      if (t.lstrip || t.rstrip || t.single_word) throw new Error(`added token ${t.content}: lstrip/rstrip/single_word are not supported`);
      this.specialIds.set(t.content, t.id);
      if (t.id > maxId) maxId = t.id;
    }
    for (const s of extraSpecial) {
      if (!this.specialIds.has(s)) this.specialIds.set(s, ++maxId);
    }
    if (maxId >= PAIR) throw new Error(`vocabulary too large (${maxId + 1} ids)`);
    this.maxId = maxId;
    // Longest first, so that at one position the longest added token wins (leftmost-longest,
    // as the Rust library's matcher does).
    const alts = [...this.specialIds.keys()].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.special = alts.length ? new RegExp(alts.join('|'), 'gu') : null;
  }

  /** extraSpecial: tokens to add as special tokens when the file lacks them (new ids after the last). */
  static fromJson(json: TokenizerJson, extraSpecial: string[] = []): BpeTokenizer {
    return new BpeTokenizer(json, extraSpecial);
  }

  tokenId(token: string): number | undefined {
    return this.specialIds.get(token) ?? this.vocab.get(token);
  }

  /** Token ids of text, special tokens recognised, nothing added (no BOS). */
  encode(text: string): number[] {
    const out: number[] = [];
    this.walk(text, (ids) => {
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    });
    return out;
  }

  /** The hot path: no id arrays built, no callbacks. */
  count(text: string): number {
    const re = this.special;
    if (!re) return this.countText(text);
    re.lastIndex = 0;
    let n = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) n += this.countText(text.slice(last, m.index));
      n++;
      last = m.index + m[0].length;
    }
    if (last < text.length) n += this.countText(last === 0 ? text : text.slice(last));
    return n;
  }

  private countText(text: string): number {
    const re = this.pre;
    re.lastIndex = 0;
    let n = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const w = m[0];
      if (w.length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > last) n += this.word(text.slice(last, m.index)).length;
      n += this.word(w).length;
      last = m.index + w.length;
    }
    if (last < text.length) n += this.word(text.slice(last)).length;
    return n;
  }

  private walk(text: string, emit: (ids: Int32Array) => void): void {
    if (!this.special) return this.walkText(text, emit);
    const re = this.special;
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) this.walkText(text.slice(last, m.index), emit);
      emit(Int32Array.of(this.specialIds.get(m[0])!));
      last = m.index + m[0].length;
    }
    if (last < text.length) this.walkText(last === 0 ? text : text.slice(last), emit);
  }

  private walkText(text: string, emit: (ids: Int32Array) => void): void {
    const re = this.pre;
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      // Split with "Isolated" keeps what the pattern skipped as pre-tokens of their own.
      if (m.index > last) emit(this.word(text.slice(last, m.index)));
      emit(this.word(m[0]));
      last = m.index + m[0].length;
    }
    if (last < text.length) emit(this.word(text.slice(last)));
  }

  private word(w: string): Int32Array {
    const hit = this.cache.get(w);
    if (hit !== undefined) return hit;
    const ids = this.bpe(w);
    // Bounded: chat text has a long tail of one-off pre-tokens (hashes, URLs).
    if (this.cache.size >= 1 << 20) this.cache.clear();
    this.cache.set(w, ids);
    return ids;
  }

  private bpe(w: string): Int32Array {
    const bytes = this.encoder.encode(w);
    if (this.ignoreMerges) {
      let s = '';
      for (let i = 0; i < bytes.length; i++) s += this.byteChars[bytes[i]!];
      const whole = this.vocab.get(s);
      if (whole !== undefined) return Int32Array.of(whole);
    }
    return bytes.length <= SHORT_WORD ? this.mergeShort(bytes) : this.mergeLong(bytes);
  }

  /**
   * Lowest-ranked pair first, leftmost among equals: a scan of the pairs' ranks per merge
   * (fastest for short words); only the two pairs beside a merge are looked up again.
   */
  private mergeShort(bytes: Uint8Array): Int32Array {
    let len = bytes.length;
    const t = this.merges;
    const ids = new Int32Array(len);
    const ranks = new Int32Array(len);
    const made = new Int32Array(len);
    for (let i = 0; i < len; i++) ids[i] = this.byteIds[bytes[i]!]!;
    const look = (i: number) => {
      const at = t.find(ids[i]!, ids[i + 1]!);
      ranks[i] = at < 0 ? NO_MERGE : t.rank[at]!;
      made[i] = at < 0 ? -1 : t.made[at]!;
    };
    for (let i = 0; i + 1 < len; i++) look(i);
    for (;;) {
      let best = NO_MERGE;
      let at = -1;
      for (let i = 0; i + 1 < len; i++) {
        if (ranks[i]! < best) {
          best = ranks[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      ids[at] = made[at]!;
      ids.copyWithin(at + 1, at + 2, len);
      ranks.copyWithin(at + 1, at + 2, len);
      made.copyWithin(at + 1, at + 2, len);
      len--;
      if (at > 0) look(at - 1);
      if (at + 1 < len) look(at);
    }
    return ids.slice(0, len);
  }

  /**
   * The same merge order for long words (an unspaced Chinese or Thai paragraph, a base64 paste
   * is one pre-token of thousands of bytes, where a scan per merge is quadratic): candidate
   * pairs in a min-heap keyed by (rank, position of the left symbol) over a linked list of
   * symbols, as the Rust library's merge_all does. Stale heap entries are skipped when popped.
   */
  private mergeLong(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    const ids = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.byteIds[bytes[i]!]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MinHeap(n * 3);
    const t = this.merges;
    const push = (i: number) => {
      const j = next[i]!;
      if (j < 0) return;
      const at = t.find(ids[i]!, ids[j]!);
      if (at >= 0) heap.push(t.rank[at]! * POS + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    let len = n;
    while (heap.size > 0) {
      const key = heap.pop();
      const i = key % POS;
      const j = next[i]!;
      if (ids[i]! < 0 || j < 0) continue;
      const at = t.find(ids[i]!, ids[j]!);
      if (at < 0 || t.rank[at] !== Math.floor(key / POS)) continue;
      ids[i] = t.made[at]!;
      ids[j] = -1;
      const k = next[j]!;
      next[i] = k;
      if (k >= 0) prev[k] = i;
      len--;
      if (prev[i]! >= 0) push(prev[i]!);
      push(i);
    }
    const out = new Int32Array(len);
    for (let i = 0, o = 0; i >= 0; i = next[i]!) out[o++] = ids[i]!;
    return out;
  }
}

/** Words up to this many bytes merge by scanning (measured: faster than the heap below ~64). */
const SHORT_WORD = 64;
/** Heap keys are rank * POS + position: exact in a double for ranks < 2^21 and words < 2^31 bytes. */
const POS = 2 ** 31;

/** A binary min-heap of numbers in a Float64Array (no objects per entry). */
class MinHeap {
  private a: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(capacity, 16));
  }
  push(v: number): void {
    if (this.size === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    const a = this.a;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const v = a[--this.size]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && a[c + 1]! < a[c]!) c++;
      if (a[c]! >= v) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = v;
    return top;
  }
}

const NO_MERGE = 0x7fffffff;

/**
 * The merge table: (left id, right id) -> (rank, merged id), open addressing over typed arrays.
 * A Map keyed by left * 2^18 + right hashes a double per lookup and was the tokenizer's
 * hottest line on unspaced and non-Latin text, where few pre-tokens repeat.
 */
class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  readonly rank: Int32Array;
  readonly made: Int32Array;
  private readonly shift: number;
  private readonly mask: number;

  constructor(entries: number) {
    let bits = 4;
    while (1 << bits < entries * 2) bits++;
    const size = 1 << bits;
    this.left = new Int32Array(size).fill(-1);
    this.right = new Int32Array(size);
    this.rank = new Int32Array(size);
    this.made = new Int32Array(size);
    this.shift = 32 - bits;
    this.mask = size - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> this.shift;
  }

  /** Index of the pair's slot, or -1. */
  find(a: number, b: number): number {
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const l = this.left[i]!;
      if (l === -1) return -1;
      if (l === a && this.right[i] === b) return i;
    }
  }

  /** Records the pair unless it is already there (the first, lowest rank wins, as in the file). */
  addFirst(a: number, b: number, rank: number, made: number): void {
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const l = this.left[i]!;
      if (l === a && this.right[i] === b) return;
      if (l === -1) {
        this.left[i] = a;
        this.right[i] = b;
        this.rank[i] = rank;
        this.made[i] = made;
        return;
      }
    }
  }
}
