import { SourceError } from '../core/errors.js';
import { readJsonRecords } from './read-json-records.js';

export interface JsonlRecord {
  /** 0-based index among the file's records (blank lines are not records). */
  row: number;
  /** 1-based line number in the file, for messages. */
  line: number;
  value: unknown;
  /**
   * The record held a lone UTF-16 surrogate (a "\ud800" escape without its pair, as left by
   * a producer that cut text mid-character). Its strings are repaired with U+FFFD so that
   * it can be written on, and the caller drops it with reason invalid_unicode.
   */
  invalidUnicode: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_ALL = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// Only a \uD8xx-\uDFxx escape can produce a lone surrogate from valid UTF-8 input.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

/** value with every lone surrogate replaced by U+FFFD, and whether there was one. */
function repairSurrogates(value: unknown): { value: unknown; repaired: boolean } {
  if (typeof value === 'string') {
    return LONE_SURROGATE.test(value) ? { value: value.replace(LONE_SURROGATE_ALL, '\uFFFD'), repaired: true } : { value, repaired: false };
  }
  if (Array.isArray(value)) {
    let repaired = false;
    const out = value.map((v) => {
      const r = repairSurrogates(v);
      repaired ||= r.repaired;
      return r.value;
    });
    return { value: out, repaired };
  }
  if (value !== null && typeof value === 'object') {
    let repaired = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const rk = repairSurrogates(k);
      const rv = repairSurrogates(v);
      repaired ||= rk.repaired || rv.repaired;
      out[rk.value as string] = rv.value;
    }
    return { value: out, repaired };
  }
  return { value, repaired: false };
}

/** Byte offset of the first byte that breaks UTF-8 (only called once decoding failed). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    // Overlong three-byte forms and UTF-8-encoded surrogates (CESU-8).
    if (c === 0xe0 && b[i + 1]! < 0xa0) return i;
    if (c === 0xed && b[i + 1]! >= 0xa0) return i;
    if (c === 0xf0 && b[i + 1]! < 0x90) return i;
    if (c === 0xf4 && b[i + 1]! >= 0x90) return i;
    i += n + 1;
  }
  return i;
}

// Integers past 2^53 lose digits in JSON.parse (1234567890123456789 and ...788 become one
// number); outside strings, such tokens are quoted first, so ids stay exact text.
const BIG_INT_TOKEN = /\d{16,}/;

function quoteBigIntegers(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const isStart = (c >= 0x30 && c <= 0x39) || c === 0x2d;
    if (!isStart) continue;
    let j = c === 0x2d ? i + 1 : i;
    while (j < text.length && text.charCodeAt(j) >= 0x30 && text.charCodeAt(j) <= 0x39) j++;
    const next = text.charCodeAt(j);
    const isInteger = next !== 0x2e && next !== 0x65 && next !== 0x45;
    if (isInteger && j - i >= 16 && !Number.isSafeInteger(Number(text.slice(i, j)))) {
      out += text.slice(last, i) + '"' + text.slice(i, j) + '"';
      last = j;
    }
    // The rest of a non-integer (fraction, exponent) is part of this number: its digits are
    // not an integer token of their own (real WildChat moderation scores such as
    // 0.00015608726243954152 have 20 digits after the point).
    if (!isInteger) {
      while (j < text.length) {
        const d = text.charCodeAt(j);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) j++;
        else break;
      }
    }
    i = j - 1;
  }
  return last === 0 ? text : out + text.slice(last);
}

export interface ParseAt {
  /** The file as messages name it. */
  label: string;
  line: number;
  row: number;
  where: string;
  decoder: TextDecoder;
  layout: 'lines' | 'array';
}

/**
 * One record from its bytes: UTF-8 checked, parsed with big integers kept as text, lone
 * surrogates repaired and flagged. Null for a blank line. Errors name the file and line and
 * the fix for that layout.
 */
export function parseJsonRecord(bytes: Uint8Array, at: ParseAt): JsonlRecord | null {
  const { label, line, where } = at;
  const what = at.layout === 'lines' ? 'line' : 'array element starting on that line';
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 13) end--;
  const body = bytes.subarray(0, end);
  let text: string;
  try {
    text = at.decoder.decode(body);
  } catch {
    const at0 = firstInvalidUtf8(line === 1 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body);
    throw new SourceError(
      `${label}:${line}: not valid UTF-8 (byte ${at0 + 1} of the ${at.layout === 'lines' ? 'line' : 'element'}) in ${where}. ` +
        `The file is damaged or in another encoding: re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8), or repair or delete that ${what}, then rerun.`,
    );
  }
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(BIG_INT_TOKEN.test(text) ? quoteBigIntegers(text) : text);
  } catch (e) {
    const fix =
      at.layout === 'lines'
        ? /^\s*\[/.test(text) && line === 1
          ? 'The file looks like one JSON array, not JSON lines: remove format: jsonl (the layout is detected from the content) or set format: json.'
          : 'Each line must hold one JSON object: repair or delete that line, then rerun.'
        : 'Repair that element of the array, then rerun.';
    throw new SourceError(`${label}:${line}: not valid JSON (${(e as Error).message}) in ${where}. ${fix}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SourceError(`${label}:${line}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value} in ${where}. Repair or delete that ${what}, then rerun.`);
  }
  let invalidUnicode = false;
  if (SURROGATE_ESCAPE.test(text)) {
    const r = repairSurrogates(value);
    value = r.value;
    invalidUnicode = r.repaired;
  }
  return { row: at.row, line, value, invalidUnicode };
}

/**
 * Stream a JSON-lines file record by record. A line that is not UTF-8 or not JSON stops the
 * run with its file and line number: a silently skipped line would be a silently lost
 * conversation, and a silently replaced byte a silently changed one. A byte-order mark at
 * the start of the file is allowed.
 */
export async function* scanJsonl(path: string, where: string): AsyncGenerator<JsonlRecord> {
  // Compression and layout (lines or one array) come from the content.
  yield* readJsonRecords(path, where);
}
