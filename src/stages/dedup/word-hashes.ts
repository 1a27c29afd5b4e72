// Words of a text for shingling, hashed in one pass with no intermediate strings:
// lowercase, diacritics folded (NFKD, combining marks dropped), every digit read as 0,
// punctuation and whitespace as separators. Scripts written without spaces (CJK ideographs,
// kana) count each character as a word: otherwise a Chinese prompt is one "word" and any
// edit makes it a different text.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;

/** 0: separator, 1: word character, for the ASCII range; digits map to '0'. */
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII_CLASS[c] = /[a-z0-9]/i.test(ch) ? 1 : 0;
}

/** For code units >= 128: 0 unknown, 1 separator (not a letter, digit or mark), 2 word character. */
const WIDE_CLASS = new Uint8Array(65536);
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

function isSeparator(c: number): boolean {
  if (c < 128) return ASCII_CLASS[c] === 0;
  let k = WIDE_CLASS[c]!;
  if (k === 0) {
    // Surrogate halves cannot be classified alone: they stay word characters.
    k = (c >= 0xd800 && c <= 0xdfff) || WORD_CHAR.test(String.fromCharCode(c)) ? 2 : 1;
    WIDE_CLASS[c] = k;
  }
  return k === 1;
}

const NON_ASCII = /[^\x00-\x7f]/;

function isUnspaced(c: number): boolean {
  return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff);
}

function isSpace(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13) || c === 31; // 31: the turn separator (see exact-key.ts)
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/**
 * How punctuation bounds words. split: every punctuation mark separates words ("(Map<String,"
 * is two words). whitespace: only whitespace separates, punctuation inside a word is
 * dropped ("(Map<String," is one word "mapstring", "don't" is "dont"): words as a person
 * counts them, so an edit of one written word is one edit (near-dedup's edit similarity); a
 * token of punctuation alone ("{", "->") is no word. Digits are kept there: "a $30,000 loan
 * at 4.5%" and "a $8,500 loan at 7.2%" are different requests.
 */
export type WordBreaks = 'split' | 'whitespace';

/**
 * FNV-1a hashes of the normalized words of text, in order. out is reused when large enough
 * (returns a view of it) so that hot loops allocate nothing per document.
 */
export function wordHashes(text: string, out?: Uint32Array, breaks: WordBreaks = 'split'): Uint32Array {
  const joinPunct = breaks === 'whitespace';
  let s = text;
  if (NON_ASCII.test(s)) s = s.normalize('NFKD');
  const len = s.length;
  let buf = out && out.length >= (len >> 1) + 1 ? out : new Uint32Array((len >> 1) + 1);
  let n = 0;
  let h = FNV_OFFSET;
  let inWord = false;

  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x300 && c <= 0x36f) continue; // combining diacritical marks
    if (isSeparator(c)) {
      if (joinPunct && !isSpace(c)) continue;
      if (inWord) {
        if (n >= buf.length) buf = grow(buf);
        buf[n++] = h >>> 0;
        h = FNV_OFFSET;
        inWord = false;
      }
      continue;
    }
    if (c >= 0x3040 && isUnspaced(c)) {
      if (inWord) {
        if (n >= buf.length) buf = grow(buf);
        buf[n++] = h >>> 0;
        h = FNV_OFFSET;
      }
      if (n >= buf.length) buf = grow(buf);
      buf[n++] = Math.imul(FNV_OFFSET ^ c, FNV_PRIME) >>> 0;
      inWord = false;
      continue;
    }
    if (c >= 48 && c <= 57) {
      if (!joinPunct) c = 48; // digits fold to 0, except in near-dedup's words
    } else if (c >= 65 && c <= 90) c += 32; // ASCII upper -> lower
    else if (c >= 128) c = foldCase(c);
    h = Math.imul(h ^ c, FNV_PRIME);
    inWord = true;
  }
  if (inWord) {
    if (n >= buf.length) buf = grow(buf);
    buf[n++] = h >>> 0;
  }
  return buf.subarray(0, n);
}

function grow(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2 + 16);
  b.set(a);
  return b;
}

const foldCache = new Map<number, number>();
export function foldCase(c: number): number {
  let v = foldCache.get(c);
  if (v === undefined) {
    const low = String.fromCharCode(c).toLowerCase();
    v = low.length === 1 ? low.charCodeAt(0) : c;
    if (foldCache.size < 65536) foldCache.set(c, v);
  }
  return v;
}
