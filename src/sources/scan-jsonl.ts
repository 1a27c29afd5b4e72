import { createReadStream } from 'node:fs';
import { SourceError } from '../core/errors.js';

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

/**
 * Stream a JSON-lines file record by record. A line that is not UTF-8 or not JSON stops the
 * run with its file and line number: a silently skipped line would be a silently lost
 * conversation, and a silently replaced byte a silently changed one. A byte-order mark at
 * the start of the file is allowed.
 */
export async function* scanJsonl(path: string, where: string): AsyncGenerator<JsonlRecord> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let line = 0;
  let row = 0;
  let pending: Buffer[] = [];

  function parse(bytes: Uint8Array): JsonlRecord | null {
    line++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 13) end--;
    const body = bytes.subarray(0, end);
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      const at = firstInvalidUtf8(line === 1 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body);
      throw new SourceError(
        `${path}:${line}: not valid UTF-8 (byte ${at + 1} of the line) in ${where}. ` +
          'The file is damaged or in another encoding: re-encode it as UTF-8 (e.g. iconv -f latin1 -t utf-8), or repair or delete that line, then rerun.',
      );
    }
    if (text.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new SourceError(
        `${path}:${line}: not valid JSON (${(e as Error).message}) in ${where}. ` +
          'Each line must hold one JSON object: repair or delete that line, then rerun.',
      );
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new SourceError(`${path}:${line}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value} in ${where}. Repair or delete that line, then rerun.`);
    }
    let invalidUnicode = false;
    if (SURROGATE_ESCAPE.test(text)) {
      const r = repairSurrogates(value);
      value = r.value;
      invalidUnicode = r.repaired;
    }
    return { row: row++, line, value, invalidUnicode };
  }

  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, start)) !== -1) {
      const piece = chunk.subarray(start, nl);
      const rec = parse(pending.length ? Buffer.concat([...pending, piece]) : piece);
      pending = [];
      if (rec) yield rec;
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) {
    const rec = parse(Buffer.concat(pending));
    if (rec) yield rec;
  }
}
