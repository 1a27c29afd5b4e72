import { LLAMA3_PATTERN, llama3Spans } from './llama3-pretokenizer.js';
import { onigToJsRegex } from './onig-to-js-regex.js';
import { isThreeByte, SoftBoundaries } from './hard-boundaries.js';
import { SpanCache } from './span-cache.js';

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
  /** With ignore_merges, a pre-token that is a whole vocabulary entry is that one id: looked up by its bytes. */
  private readonly wholeWords: ByteVocab | null;
  private readonly cache = new Map<string, Int32Array>();
  /** The pattern is Llama-3's: pre-tokens come from the hand-written scanner and the span cache. */
  private readonly fast: boolean;
  private readonly spanCounts: SpanCache | null;
  /** Where a pre-token of three-byte characters may be cut (fast mode only), and the pieces' counts. */
  private readonly softBoundaries: SoftBoundaries | null;
  private readonly pieceCounts: SpanCache | null;
  /**
   * Every special token is `<|...|>` with no other `|>` in it, so one can start only at a `<|`
   * and end only at the first `|>` after it: found by indexOf, not by the alternation regex.
   */
  private readonly angleSpecials: boolean;
  private readonly longestSpecial: number;
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
    const tokenBytes = vocabBytes(this.vocab, this.byteChars);
    this.wholeWords = this.ignoreMerges ? ByteVocab.of(tokenBytes) : null;
    const pattern = splitPattern(json.pre_tokenizer);
    this.pre = new RegExp(onigToJsRegex(pattern), 'gu');
    this.fast = pattern === LLAMA3_PATTERN;
    this.spanCounts = this.fast ? new SpanCache() : null;
    this.softBoundaries = this.fast ? SoftBoundaries.of(tokenBytes.map((t) => t.bytes)) : null;
    this.pieceCounts = this.fast ? new SpanCache(1 << 18, 1 << 21) : null;
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
    const specials = [...this.specialIds.keys()];
    this.angleSpecials = specials.every((t) => t.startsWith('<|') && t.indexOf('|>', 1) === t.length - 2);
    this.longestSpecial = specials.reduce((a, t) => Math.max(a, t.length), 0);
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

  /** The hot path: no id arrays built. */
  count(text: string): number {
    if (this.fast) return this.countFast(text);
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

  /**
   * The length of the special token at text[p] (0: none there), leftmost-longest as the
   * alternation regex matches; only for angle specials.
   */
  private specialAt(text: string, p: number): number {
    const q = text.indexOf('|>', p + 1);
    if (q < 0 || q + 2 - p > this.longestSpecial) return 0;
    return this.specialIds.has(text.slice(p, q + 2)) ? q + 2 - p : 0;
  }

  /** Calls text(from, to) for each stretch between special tokens and special(id) for each special, in order. */
  private splitSpecials(text: string, part: (from: number, to: number) => void, special: (id: number) => void): void {
    let last = 0;
    if (this.angleSpecials) {
      for (let p = text.indexOf('<|'); p >= 0; ) {
        const len = this.specialAt(text, p);
        if (len === 0) {
          p = text.indexOf('<|', p + 1);
          continue;
        }
        if (p > last) part(last, p);
        special(this.specialIds.get(text.slice(p, p + len))!);
        last = p + len;
        p = text.indexOf('<|', last);
      }
    } else if (this.special) {
      const re = this.special;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        if (m.index > last) part(last, m.index);
        special(this.specialIds.get(m[0])!);
        last = m.index + m[0].length;
      }
    }
    if (last < text.length) part(last, text.length);
  }

  private countFast(text: string): number {
    const cache = this.spanCounts!;
    let n = 0;
    const span = (s: number, e: number) => {
      const h = SpanCache.hash(text, s, e);
      let c = cache.get(text, s, e, h);
      if (c < 0) {
        c = this.mergeSpan(text, s, e, null);
        cache.set(text, s, e, h, c);
      }
      n += c;
    };
    this.splitSpecials(
      text,
      (from, to) => llama3Spans(text, from, to, span),
      () => n++,
    );
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
    if (this.fast) {
      return this.splitSpecials(
        text,
        (from, to) => llama3Spans(text, from, to, (s, e) => emit(this.word(text.slice(s, e)))),
        (id) => emit(Int32Array.of(id)),
      );
    }
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

  // Scratch buffers of the merge, grown to the longest pre-token seen (a tokenizer belongs to
  // one thread). A merge allocates nothing: on text where few pre-tokens repeat (unspaced
  // Chinese, rare words) the per-call arrays and TextEncoder were most of its cost.
  private bytes = new Uint8Array(256);
  private ids = new Int32Array(256);
  private ranks = new Int32Array(256);
  private made = new Int32Array(256);
  private next = new Int32Array(256);
  private prev = new Int32Array(256);
  private readonly heap = new MinHeap(1024);

  private bpe(w: string): Int32Array {
    const out: number[] = [];
    this.mergeSpan(w, 0, w.length, out);
    return Int32Array.from(out);
  }

  /**
   * Merges the pre-token text[from, to) and returns how many tokens it makes; their ids are
   * appended to `out` when one is given. A pre-token of three-byte characters (an unspaced
   * Chinese clause) is merged in pieces, cut where no token can cross (hard-boundaries.ts),
   * and the pieces' counts are cached: they are words, which repeat where clauses do not.
   */
  private mergeSpan(text: string, from: number, to: number, out: number[] | null): number {
    const n = this.utf8(text, from, to);
    if (this.wholeWords) {
      const id = this.wholeWords.find(this.bytes, n);
      if (id >= 0) {
        out?.push(id);
        return 1;
      }
    }
    const soft = this.softBoundaries;
    if (soft && to - from >= 2) {
      let start = from;
      let total = 0;
      for (let i = from + 1; i < to; i++) {
        const x = text.charCodeAt(i - 1);
        const y = text.charCodeAt(i);
        if (isThreeByte(x) && isThreeByte(y) && !soft.soft(x, y)) {
          total += this.mergePiece(text, start, i, out);
          start = i;
        }
      }
      // Cut at least once: the pieces replace the whole (whose bytes the pieces overwrote).
      if (start > from) return total + this.mergePiece(text, start, to, out);
    }
    return this.mergeBytes(n, out);
  }

  /** A piece of a pre-token: merged from its bytes alone (no whole-word lookup: it is not a pre-token). */
  private mergePiece(text: string, from: number, to: number, out: number[] | null): number {
    const cache = out === null ? this.pieceCounts : null;
    let h = 0;
    if (cache) {
      h = SpanCache.hash(text, from, to);
      const c = cache.get(text, from, to, h);
      if (c >= 0) return c;
    }
    const len = this.mergeBytes(this.utf8(text, from, to), out);
    cache?.set(text, from, to, h, len);
    return len;
  }

  /** Merges this.bytes[0, n) by the merge ranks alone; appends the ids to `out` when given. */
  private mergeBytes(n: number, out: number[] | null): number {
    const ids = this.ids;
    const bytes = this.bytes;
    for (let i = 0; i < n; i++) ids[i] = this.byteIds[bytes[i]!]!;
    const len = n <= SHORT_WORD ? this.mergeShort(n) : this.mergeLong(n);
    if (out) for (let i = 0; i < len; i++) out.push(this.ids[i]!);
    return len;
  }

  /** UTF-8 of text[from, to) into this.bytes, as TextEncoder writes it (a lone surrogate is U+FFFD). */
  private utf8(text: string, from: number, to: number): number {
    const need = (to - from) * 3;
    if (this.bytes.length < need) this.grow(need);
    const b = this.bytes;
    let n = 0;
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) b[n++] = c;
      else if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 63);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < to ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          b[n++] = 0xf0 | (cp >> 18);
          b[n++] = 0x80 | ((cp >> 12) & 63);
          b[n++] = 0x80 | ((cp >> 6) & 63);
          b[n++] = 0x80 | (cp & 63);
          i++;
        } else {
          b[n++] = 0xef;
          b[n++] = 0xbf;
          b[n++] = 0xbd;
        }
      } else {
        b[n++] = 0xe0 | (c >> 12);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
      }
    }
    return n;
  }

  private grow(n: number): void {
    const size = Math.max(n, this.bytes.length * 2);
    this.bytes = new Uint8Array(size);
    this.ids = new Int32Array(size);
    this.ranks = new Int32Array(size);
    this.made = new Int32Array(size);
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
  }

  /**
   * Lowest-ranked pair first, leftmost among equals: a scan of the pairs' ranks per merge
   * (fastest for short words); only the two pairs beside a merge are looked up again.
   */
  private mergeShort(n: number): number {
    let len = n;
    const t = this.merges;
    const { ids, ranks, made } = this;
    const slots = t.slots;
    const look = (i: number) => {
      const at = t.find(ids[i]!, ids[i + 1]!);
      ranks[i] = at < 0 ? NO_MERGE : slots[at + 2]!;
      made[i] = at < 0 ? -1 : slots[at + 3]!;
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
      // A loop, not three copyWithin calls: the words here are short and the calls' overhead dominated.
      len--;
      for (let i = at + 1; i < len; i++) {
        ids[i] = ids[i + 1]!;
        ranks[i] = ranks[i + 1]!;
        made[i] = made[i + 1]!;
      }
      if (at > 0) look(at - 1);
      if (at + 1 < len) look(at);
    }
    return len;
  }

  /**
   * The same merge order for long words (an unspaced Chinese or Thai paragraph, a base64 paste
   * is one pre-token of thousands of bytes, where a scan per merge is quadratic): candidate
   * pairs in a min-heap keyed by (rank, position of the left symbol) over a linked list of
   * symbols, as the Rust library's merge_all does. Stale heap entries are skipped when popped.
   */
  private mergeLong(n: number): number {
    const { ids, next, prev } = this;
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = this.heap;
    heap.size = 0;
    const t = this.merges;
    const slots = t.slots;
    const push = (i: number) => {
      const j = next[i]!;
      if (j < 0) return;
      const at = t.find(ids[i]!, ids[j]!);
      if (at >= 0) heap.push(slots[at + 2]! * POS + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    let len = n;
    while (heap.size > 0) {
      const key = heap.pop();
      const i = key % POS;
      const j = next[i]!;
      if (ids[i]! < 0 || j < 0) continue;
      const at = t.find(ids[i]!, ids[j]!);
      if (at < 0 || slots[at + 2] !== Math.floor(key / POS)) continue;
      ids[i] = slots[at + 3]!;
      ids[j] = -1;
      const k = next[j]!;
      next[i] = k;
      if (k >= 0) prev[k] = i;
      len--;
      if (prev[i]! >= 0) push(prev[i]!);
      push(i);
    }
    // In place: the list visits positions in increasing order, never behind the write index.
    let o = 0;
    for (let i = 0; i >= 0; i = next[i]!) ids[o++] = ids[i]!;
    return len;
  }
}

/** Words up to this many bytes merge by scanning: on the distinct pre-tokens of realistic chat text, with neither path allocating, the scan was faster up to about 24 bytes and the heap past it. */
const SHORT_WORD = 24;
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
const RECENT_PAIRS = 1 << 13;

/**
 * The merge table: (left id, right id) -> (rank, merged id), open addressing over one typed
 * array with the four fields of a slot side by side. The table is 16 MB, far past the CPU's
 * caches, so a lookup costs about one memory access per slot probed: four parallel arrays
 * cost four. (A Map keyed by left * 2^18 + right hashed a double per lookup, slower still.)
 */
class PairTable {
  /** Per slot: left id (-1: empty), right id, rank, merged id. */
  readonly slots: Int32Array;
  private readonly shift: number;
  private readonly mask: number;

  constructor(entries: number) {
    let bits = 4;
    while (1 << bits < entries * 2) bits++;
    this.slots = new Int32Array(4 << bits);
    for (let i = 0; i < this.slots.length; i += 4) this.slots[i] = -1;
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> this.shift;
  }

  /**
   * A direct-mapped table of recent lookups in front (left, right, answer), small enough to
   * stay in the CPU's cache: the pairs of a script's common characters repeat across words
   * that do not (unspaced Chinese), and each answer from the main table is a memory access.
   */
  private readonly recent = new Int32Array(RECENT_PAIRS * 4).fill(-1);

  /** Offset of the pair's slot in `slots` (its rank at +2, merged id at +3), or -1. */
  find(a: number, b: number): number {
    const h = this.slot(a, b);
    const r = (h & (RECENT_PAIRS - 1)) << 2;
    const recent = this.recent;
    if (recent[r] === a && recent[r + 1] === b) return recent[r + 2]!;
    const t = this.slots;
    let found = -1;
    for (let i = h; ; i = (i + 1) & this.mask) {
      const o = i << 2;
      const l = t[o]!;
      if (l === -1) break;
      if (l === a && t[o + 1] === b) {
        found = o;
        break;
      }
    }
    recent[r] = a;
    recent[r + 1] = b;
    recent[r + 2] = found;
    return found;
  }

  /** Records the pair unless it is already there (the first, lowest rank wins, as in the file). */
  addFirst(a: number, b: number, rank: number, made: number): void {
    const t = this.slots;
    for (let i = this.slot(a, b); ; i = (i + 1) & this.mask) {
      const o = i << 2;
      const l = t[o]!;
      if (l === a && t[o + 1] === b) return;
      if (l === -1) {
        t[o] = a;
        t[o + 1] = b;
        t[o + 2] = rank;
        t[o + 3] = made;
        return;
      }
    }
  }
}

/** The bytes each vocabulary entry stands for (entries that do not spell bytes are left out: they never match a pre-token). */
function vocabBytes(vocab: Map<string, number>, byteChars: string[]): { bytes: number[]; id: number }[] {
  const byteOf = new Map(byteChars.map((c, b) => [c, b]));
  const words: { bytes: number[]; id: number }[] = [];
  for (const [token, id] of vocab) {
    const bytes: number[] = [];
    for (const ch of token) {
      const b = byteOf.get(ch);
      if (b === undefined) break;
      bytes.push(b);
    }
    if (bytes.length === [...token].length) words.push({ bytes, id });
  }
  return words;
}

/** Vocabulary ids by the bytes they stand for: open addressing over one pool of bytes. */
class ByteVocab {
  private constructor(
    private readonly slots: Int32Array,
    private readonly start: Int32Array,
    private readonly len: Int32Array,
    private readonly ids: Int32Array,
    private readonly pool: Uint8Array,
  ) {}

  static of(words: { bytes: number[]; id: number }[]): ByteVocab {
    const total = words.reduce((a, w) => a + w.bytes.length, 0);
    let bits = 4;
    while (1 << bits < words.length * 2) bits++;
    const slots = new Int32Array(1 << bits).fill(-1);
    const start = new Int32Array(words.length);
    const len = new Int32Array(words.length);
    const ids = new Int32Array(words.length);
    const pool = new Uint8Array(total);
    const v = new ByteVocab(slots, start, len, ids, pool);
    let at = 0;
    words.forEach((w, e) => {
      pool.set(w.bytes, at);
      start[e] = at;
      len[e] = w.bytes.length;
      ids[e] = w.id;
      at += w.bytes.length;
      const mask = slots.length - 1;
      let s = ByteVocab.hash(pool, start[e]!, len[e]!) & mask;
      while (slots[s]! >= 0) s = (s + 1) & mask;
      slots[s] = e;
    });
    return v;
  }

  private static hash(b: Uint8Array, from: number, n: number): number {
    let h = 0x811c9dc5 ^ n;
    for (let i = from; i < from + n; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return h ^ (h >>> 15);
  }

  /** The id of bytes[0, n), or -1. */
  find(bytes: Uint8Array, n: number): number {
    const mask = this.slots.length - 1;
    for (let s = ByteVocab.hash(bytes, 0, n) & mask; ; s = (s + 1) & mask) {
      const e = this.slots[s]!;
      if (e < 0) return -1;
      if (this.len[e] !== n) continue;
      const at = this.start[e]!;
      let i = 0;
      while (i < n && this.pool[at + i] === bytes[i]) i++;
      if (i === n) return this.ids[e]!;
    }
  }
}
