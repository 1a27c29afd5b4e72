import { readFileSync } from 'node:fs';
import { ConfigError } from '../../core/errors.js';
import { defaultTokenizerPath } from '../tokenize/load-tokenizer.js';

const cache = new Map<string, string[]>();

/**
 * Every text the trainer's tokenizer turns into a single added token: the tokenizer.json's
 * added_tokens (Llama-3: <|begin_of_text|>, <|start_header_id|>, <|eot_id|>, the reserved
 * ones, ...) and the end token, which the trainer adds. transformers matches added tokens in
 * the text before the BPE model runs (split_special_tokens defaults to False), so a user who
 * types "<|eot_id|>" would end a turn in training: such conversations are dropped.
 */
export function controlTokens(tokenizerJson: string | null, endToken: string): string[] {
  const path = tokenizerJson ?? defaultTokenizerPath();
  let added = cache.get(path);
  if (!added) {
    try {
      const json = JSON.parse(readFileSync(path, 'utf8')) as { added_tokens?: { content?: unknown }[] };
      added = (json.added_tokens ?? []).map((t) => t.content).filter((c): c is string => typeof c === 'string' && c.length > 0);
    } catch (e) {
      throw new ConfigError([{ file: path, path: 'stages.tokenize.tokenizer_json', message: `cannot read the tokenizer's added tokens: ${(e as Error).message}` }]);
    }
    cache.set(path, added);
  }
  return [...new Set([...added, endToken])].sort();
}

/** An RE2 pattern (DuckDB's regexp_matches) matching any of the tokens literally. */
export function controlTokenPattern(tokens: string[]): string {
  return tokens.map((t) => t.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')).join('|');
}
