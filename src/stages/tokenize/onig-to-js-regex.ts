// tokenizer.json pre-tokenizer patterns are written for Oniguruma (the Rust tokenizers
// library). Two constructs differ in a JavaScript `u` regex and would silently change token
// boundaries: \s / \S (Oniguruma: Unicode White_Space, which has U+0085 and lacks U+FEFF;
// JavaScript: the reverse), and (?i:...) groups, which Node 20 cannot parse.

/** Unicode White_Space, as Oniguruma's \s matches it; without brackets, to splice into classes. */
const WHITE_SPACE = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

// Letters whose Unicode simple case folding adds a third form (long s, Kelvin sign).
const EXTRA_FOLDS: Record<string, string> = { s: '\u017f', k: '\u212a' };

function caseless(ch: string): string {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  if (lower === upper) return ch;
  return `[${lower}${upper}${EXTRA_FOLDS[lower] ?? ''}]`;
}

/**
 * The JavaScript source (for `new RegExp(src, 'gu')`) of an Oniguruma pattern from a
 * tokenizer.json. Throws on constructs it cannot translate faithfully, so that an unknown
 * tokenizer fails loudly instead of counting wrong.
 */
export function onigToJsRegex(pattern: string): string {
  let out = '';
  let inClass = false;
  let caseDepth = -1;
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) throw new Error(`pre-tokenizer pattern ends in a backslash: ${pattern}`);
      i++;
      if (n === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (n === 'S') {
        if (inClass) throw new Error(`\\S inside a character class is not supported: ${pattern}`);
        out += `[^${WHITE_SPACE}]`;
      } else if (n === 'p' || n === 'P') {
        const close = pattern.indexOf('}', i);
        out += `\\${n}${pattern.slice(i + 1, close + 1)}`;
        i = close;
      } else out += `\\${n}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      continue;
    }
    if (c === '(') {
      depth++;
      if (pattern.startsWith('(?i:', i)) {
        if (caseDepth !== -1) throw new Error(`nested (?i:) groups are not supported: ${pattern}`);
        caseDepth = depth;
        out += '(?:';
        i += 3;
        continue;
      }
      if (pattern.startsWith('(?', i) && !/^\(\?(?::|=|!|<=|<!)/.test(pattern.slice(i))) {
        throw new Error(`inline flags other than (?i:) are not supported: ${pattern}`);
      }
      out += c;
      continue;
    }
    if (c === ')') {
      if (depth === caseDepth) caseDepth = -1;
      depth--;
      out += c;
      continue;
    }
    out += caseDepth !== -1 && /\p{L}/u.test(c) ? caseless(c) : c;
  }
  return out;
}
