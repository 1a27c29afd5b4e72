// Llama-3's pre-tokenizer pattern, matched by hand. The regex engine spends most of the
// tokenizer's time on chat text (every pre-token is a fresh match attempt through seven
// alternatives with Unicode property classes, then a string slice), while the words it finds
// are nearly all in the cache. This scanner classifies each code point through a table and
// reports spans [start, end) of the text, with no strings made; bpe-tokenizer.ts uses it only
// when a tokenizer.json's pattern is exactly this one, and a property test holds it to the
// regex on random text from every character class the pattern distinguishes.

/** The pattern, as it appears in tokenizer.json (Llama-3 and its fine-tunes). */
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const L = 1;
const N = 2;
/** Unicode White_Space, as Oniguruma's \s (see onig-to-js-regex.ts). */
const WS = 4;
/** \r or \n. */
const NL = 8;
/** Neither letter, number nor white space: what [^\s\p{L}\p{N}] matches. */
const OTHER = 16;

const WHITE_SPACE = /^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const LETTER = /^\p{L}$/u;
const NUMBER = /^\p{N}$/u;

function classify(cp: number): number {
  const s = String.fromCodePoint(cp);
  if (LETTER.test(s)) return L;
  if (NUMBER.test(s)) return N;
  if (WHITE_SPACE.test(s)) return cp === 10 || cp === 13 ? WS | NL : WS;
  return OTHER;
}

let bmp: Uint8Array | undefined;
const astral = new Map<number, number>();

function bmpTable(): Uint8Array {
  if (!bmp) {
    bmp = new Uint8Array(0x10000);
    // Surrogate halves on their own are code points of their own in a `u` regex: OTHER.
    for (let c = 0; c < 0x10000; c++) bmp[c] = c >= 0xd800 && c <= 0xdfff ? OTHER : classify(c);
  }
  return bmp;
}

function astralClass(cp: number): number {
  let k = astral.get(cp);
  if (k === undefined) {
    k = classify(cp);
    astral.set(cp, k);
  }
  return k;
}

/** Where the pre-tokens of text[from, to) end, one call per pre-token, in order. */
export type SpanSink = (start: number, end: number) => void;

/**
 * The pre-tokens of text[from, to) exactly as the pattern above splits it (leftmost
 * alternative first, greedy with the regex's backtracking worked out per alternative). Every
 * code point is matched by some alternative, so the spans cover the range without gaps.
 */
export function llama3Spans(text: string, from: number, to: number, emit: SpanSink): void {
  const table = bmpTable();
  // Class and width (in UTF-16 units) of the code point at i < to.
  let width = 1;
  const cls = (i: number): number => {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        width = 2;
        return astralClass(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000);
      }
    }
    width = 1;
    return table[c]!;
  };
  const letters = (i: number): number => {
    while (i < to && cls(i) === L) i += width;
    return i;
  };
  let i = from;
  while (i < to) {
    const c = text.charCodeAt(i);
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c === 0x27 && i + 1 < to) {
      const a = text.charCodeAt(i + 1) | 0x20;
      if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64 || text.charCodeAt(i + 1) === 0x17f) {
        emit(i, i + 2);
        i += 2;
        continue;
      }
      if (i + 2 < to) {
        const b = text.charCodeAt(i + 2) | 0x20;
        if (((a === 0x72 || a === 0x76) && b === 0x65) || (a === 0x6c && b === 0x6c)) {
          emit(i, i + 3);
          i += 3;
          continue;
        }
      }
    }
    const k = cls(i);
    const w = width;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (k === L) {
      const j = letters(i + w);
      emit(i, j);
      i = j;
      continue;
    }
    if ((k & (NL | N)) === 0 && i + w < to && cls(i + w) === L) {
      const j = letters(i + w + width);
      emit(i, j);
      i = j;
      continue;
    }
    // \p{N}{1,3}
    if (k === N) {
      let j = i + w;
      for (let more = 0; more < 2 && j < to && cls(j) === N; more++) j += width;
      emit(i, j);
      i = j;
      continue;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*"
    let start = -1;
    if (k === OTHER) start = i;
    else if (c === 0x20 && i + 1 < to && cls(i + 1) === OTHER) start = i + 1;
    if (start >= 0) {
      let j = start;
      while (j < to && cls(j) === OTHER) j += width;
      while (j < to && (text.charCodeAt(j) === 10 || text.charCodeAt(j) === 13)) j++;
      emit(i, j);
      i = j;
      continue;
    }
    // White space (every white space code point is one UTF-16 unit): \s*[\r\n]+ ends after the
    // run's last line break; else \s+(?!\S) leaves the run's last character to the next token
    // unless the text ends there; else \s+ takes the one character.
    let j = i;
    let lastBreak = -1;
    while (j < to) {
      const t = table[text.charCodeAt(j)]!;
      if ((t & WS) === 0) break;
      if (t & NL) lastBreak = j;
      j++;
    }
    const end = lastBreak >= 0 ? lastBreak + 1 : j === to ? j : j - i >= 2 ? j - 1 : i + 1;
    emit(i, end);
    i = end;
  }
}
