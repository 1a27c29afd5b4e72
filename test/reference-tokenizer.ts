import { Tokenizer } from '@anush008/tokenizers';
import { END_TOKEN } from '../src/stages/flip/flip-conversation.js';
import { defaultTokenizerPath } from '../src/stages/tokenize/load-tokenizer.js';

let cached: Tokenizer | undefined;

/**
 * Hugging Face's own tokenizers library (Rust, through Node bindings), the implementation
 * transformers uses for Llama-3's fast tokenizer, on the same tokenizer.json, with the end
 * token added the way a trainer adds it. The reference our tokenizer is held to.
 */
export function referenceTokenizer(): Tokenizer {
  if (!cached) {
    cached = Tokenizer.fromFile(defaultTokenizerPath());
    cached.addSpecialTokens([END_TOKEN]);
  }
  return cached;
}

export async function referenceIds(text: string): Promise<number[]> {
  return (await referenceTokenizer().encode(text, null, { addSpecialTokens: false })).getIds();
}
