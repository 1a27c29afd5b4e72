import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { END_TOKEN } from '../../src/stages/flip/flip-conversation.js';
import type { BpeTokenizer } from '../../src/stages/tokenize/bpe-tokenizer.js';
import { LLAMA3_PATTERN, llama3Spans } from '../../src/stages/tokenize/llama3-pretokenizer.js';
import { loadTokenizer } from '../../src/stages/tokenize/load-tokenizer.js';
import { onigToJsRegex } from '../../src/stages/tokenize/onig-to-js-regex.js';
import { referenceIds } from '../reference-tokenizer.js';

// Every class the pattern tells apart, and the characters where hand matching goes wrong:
// contractions in both cases and with long s, white space Oniguruma has and JavaScript lacks
// (U+0085) and the reverse (U+FEFF), line breaks, letters and digits outside the BMP, emoji,
// lone surrogate halves, and the pieces of special tokens.
const PIECES = [
  'a', 'Z', 'é', 'ж', '中', '文', 'ก', 'あ', '𠀀', 'ſ', 's', 'S', 't', 'T', 'r', 'e', 'E', 'v', 'm', 'l', 'L', 'd', 'D', 'k', 'K', 'x',
  '0', '7', '٣', '𝟘', '½', "'", '"', '.', ',', '!', '-', '_', '(', '$', '😀', '👩‍👧', '\ud800', '\udc00',
  ' ', '  ', '\t', '\n', '\r', '\r\n', '\u0085', '\u00a0', '\u3000', '\u2028', '\ufeff', '\u200b',
  '<|', '|>', '<|eot_id|>', END_TOKEN, '<|start_header_id|>', 'user', "'s", "'ll", "'RE", "'ve",
];

const text = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((p) => p.join(''));

function regexSpans(t: string): string[] {
  const re = new RegExp(onigToJsRegex(LLAMA3_PATTERN), 'gu');
  const out: string[] = [];
  let last = 0;
  for (const m of t.matchAll(re)) {
    if (m.index > last) out.push(t.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < t.length) out.push(t.slice(last));
  return out;
}

function scannedSpans(t: string, from = 0, to = t.length): string[] {
  const out: string[] = [];
  let last = from;
  llama3Spans(t, from, to, (s, e) => {
    assert.equal(s, last, 'spans leave no gap');
    assert.ok(e > s, 'no empty span');
    out.push(t.slice(s, e));
    last = e;
  });
  assert.equal(last, to, 'spans cover the range');
  return out;
}

describe('the hand-written Llama-3 pre-tokenizer', () => {
  let tok: BpeTokenizer;
  before(async () => {
    tok = (await loadTokenizer({ tokenizerJson: null, endToken: END_TOKEN })).tokenizer;
  });

  it('splits text exactly where the pattern, run as a regex, splits it', () => {
    fc.assert(fc.property(text, (t) => assert.deepEqual(scannedSpans(t), regexSpans(t))), { numRuns: 3000, seed: 14 });
  });

  it('splits a range as the regex splits that slice (the range ends where a special token starts)', () => {
    fc.assert(
      fc.property(text, fc.nat(), fc.nat(), (t, a, b) => {
        const from = t.length ? a % t.length : 0;
        const to = from + (t.length - from ? b % (t.length - from + 1) : 0);
        assert.deepEqual(scannedSpans(t, from, to), regexSpans(t.slice(from, to)));
      }),
      { numRuns: 1000, seed: 15 },
    );
  });

  it('gives token counts and ids equal to Hugging Face tokenizers on the same random text', async () => {
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        const ref = await referenceIds(t);
        assert.deepEqual(tok.encode(t), ref);
        assert.equal(tok.count(t), ref.length);
      }),
      { numRuns: 300, seed: 16 },
    );
  });
});
