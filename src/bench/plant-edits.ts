// Edits planted into a text to make a known near-duplicate, for the dedup benchmarks.

export const EDIT_KINDS = ['exact', 'case', 'punctuation', 'substitute', 'insert', 'delete', 'append'] as const;
export type EditKind = (typeof EDIT_KINDS)[number];

export interface PlantedEdit {
  text: string;
  /** Words substituted, inserted, deleted or appended (0 for exact, case and punctuation). */
  editedWords: number;
}

/**
 * A copy of `text` with `kind` applied to round(rate x words) words (at least one for the
 * word edits). Case and punctuation edits change no word: they test normalization.
 */
export function plantEdit(text: string, kind: EditKind, rate: number, rnd: () => number, word: () => string): PlantedEdit {
  if (kind === 'exact') return { text, editedWords: 0 };
  const spaced = text.split(/\s+/).filter(Boolean);
  if (kind === 'case') return { text: spaced.map((x, i) => (i % 2 === 0 ? x.toUpperCase() : x)).join(' '), editedWords: 0 };
  if (kind === 'punctuation') return { text: `${spaced.map((x, i) => (i % 4 === 3 ? `${x},` : x)).join(' ')}?!`, editedWords: 0 };
  // Words as dedup counts them: a Chinese prompt is edited character by character, with
  // characters, or a "copy" of it would be one Latin word and no copy at all.
  const w = editUnits(text);
  const unspaced = w.filter((u) => UNSPACED.test(u)).length * 2 > w.length;
  if (unspaced) word = () => CJK_POOL[Math.floor(rnd() * CJK_POOL.length)]!;
  const k = Math.max(1, Math.round(rate * w.length));
  const at = (len: number) => Math.floor(rnd() * len);
  for (let i = 0; i < k; i++) {
    if (kind === 'substitute') w[at(w.length)] = word();
    else if (kind === 'insert') w.splice(at(w.length + 1), 0, word());
    else if (kind === 'delete' && w.length > 1) w.splice(at(w.length), 1);
    else if (kind === 'append') w.push(word());
  }
  return { text: joinUnits(w), editedWords: k };
}

const UNSPACED = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/u;
const CJK_POOL = [...'的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天'];

/** A text's words as dedup counts them (see word-hashes.ts): whitespace-separated words, and each CJK or kana character on its own. */
export function editUnits(text: string): string[] {
  const out: string[] = [];
  for (const w of text.split(/\s+/)) {
    let cur = '';
    for (const ch of w) {
      if (UNSPACED.test(ch)) {
        if (cur) out.push(cur);
        cur = '';
        out.push(ch);
      } else cur += ch;
    }
    if (cur) out.push(cur);
  }
  return out;
}

/** Words of a text as the benchmark counts them for edit rates: units with a letter or digit ("{" and a CJK comma are no words). */
export function countWords(text: string): number {
  return editUnits(text).filter((u) => /[\p{L}\p{N}]/u.test(u)).length;
}

/** Units back into text: spaces between words, none next to a CJK character. */
function joinUnits(u: string[]): string {
  let s = '';
  for (let i = 0; i < u.length; i++) {
    if (i > 0 && !UNSPACED.test(u[i]!) && !UNSPACED.test(u[i - 1]!)) s += ' ';
    s += u[i];
  }
  return s;
}

/** Rate bucket of a planted copy: what the benchmark's recall targets are stated for. */
export function rateBucket(editedWords: number, words: number): string {
  if (editedWords === 0) return '0% (exact, case, punctuation)';
  const r = editedWords / Math.max(1, words);
  if (r <= 0.05) return '<=5%';
  if (r <= 0.1) return '5-10%';
  return '>10%';
}

export const LENGTH_BUCKETS = ['1-4', '5-9', '10-19', '20-49', '50-199', '200+'] as const;

export function lengthBucket(words: number): string {
  if (words < 5) return '1-4';
  if (words < 10) return '5-9';
  if (words < 20) return '10-19';
  if (words < 50) return '20-49';
  if (words < 200) return '50-199';
  return '200+';
}

/**
 * Word-level edit distance over normalized words, divided by the longer length. Exact up to
 * `limit`; beyond it, possibly only the length difference's share (a lower bound > limit).
 */
export function wordEditRatio(a: string, b: string, limit = 0.1): number {
  const norm = (s: string) =>
    editUnits(s.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()).map((u) => u.replace(/[^\p{L}\p{N}]+/gu, '')).filter(Boolean);
  const x = norm(a);
  const y = norm(b);
  const m = Math.max(x.length, y.length);
  if (m === 0) return 0;
  // Further apart in length than limit, the ratio exceeds it anyway; the quadratic table is skipped.
  if (Math.abs(x.length - y.length) > limit * m) return Math.abs(x.length - y.length) / m;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length]! / m;
}
