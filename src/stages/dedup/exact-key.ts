// The exact-duplicate key, hashed in the sketch workers in the same pass that reads each
// text for near-dedup. In SQL, folding whitespace with regexp_replace cost about 1 CPU
// second per 100k conversations, several times everything else the stage does per row.
import { mix32 } from './hash32.js';
import { foldCase } from './word-hashes.js';

/** Between the user turns of one conversation, as the stage streams them. */
export const TURN_SEPARATOR = '\u001f';

function isWhite(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/**
 * A 64-bit hash (two 32-bit halves written to out[at], out[at+1]) of a conversation's user
 * turns (joined by TURN_SEPARATOR) after lowercasing each character and collapsing every
 * run of whitespace to one space, trimmed per turn; `first`: the first turn only. Two
 * conversations have the same key when their user sides are equal up to case and
 * spacing (at 1M conversations, a chance collision of 64 bits has odds of about 3e-8).
 */
export function exactKey(text: string, first: boolean, out: Uint32Array, at: number): void {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  let space = false;
  let start = true;
  const feed = (c: number) => {
    h1 = Math.imul(h1 ^ c, 16777619);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c === 31) {
      if (first) break;
      feed(31);
      space = false;
      start = true;
      continue;
    }
    if (isWhite(c)) {
      space = true;
      continue;
    }
    if (space && !start) feed(32);
    space = false;
    start = false;
    if (c >= 65 && c <= 90) c += 32;
    else if (c >= 128) c = foldCase(c);
    feed(c);
  }
  out[at] = mix32(h1);
  out[at + 1] = mix32(h2 + 0x27d4eb2d);
}
