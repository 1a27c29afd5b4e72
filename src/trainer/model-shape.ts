import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserlmError } from '../core/errors.js';

/** What the memory estimate needs of a Llama-family model. */
export interface ModelShape {
  hidden: number;
  layers: number;
  intermediate: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

// Shapes from the models' config.json on the Hub (hidden_size, num_hidden_layers,
// intermediate_size, num_attention_heads, num_key_value_heads, vocab_size), so that a dry run
// needs no download.
const KNOWN: Record<string, ModelShape> = {
  'meta-llama/Llama-3.1-8B': { hidden: 4096, layers: 32, intermediate: 14336, heads: 32, kvHeads: 8, vocab: 128256 },
  'meta-llama/Meta-Llama-3-8B': { hidden: 4096, layers: 32, intermediate: 14336, heads: 32, kvHeads: 8, vocab: 128256 },
  'meta-llama/Llama-3.2-1B': { hidden: 2048, layers: 16, intermediate: 8192, heads: 32, kvHeads: 8, vocab: 128256 },
  'meta-llama/Llama-3.2-3B': { hidden: 3072, layers: 28, intermediate: 8192, heads: 24, kvHeads: 8, vocab: 128256 },
  'meta-llama/Llama-3.1-70B': { hidden: 8192, layers: 80, intermediate: 28672, heads: 64, kvHeads: 8, vocab: 128256 },
};

/** Parameters of the model after the end token is added to the vocabulary (untied input and output embeddings, as Llama-3 8B has). */
export function parameterCount(s: ModelShape, addedTokens = 1): number {
  const headDim = s.hidden / s.heads;
  const attention = s.hidden * s.hidden * 2 + s.hidden * s.kvHeads * headDim * 2;
  const mlp = 3 * s.hidden * s.intermediate;
  const norms = 2 * s.hidden;
  return s.layers * (attention + mlp + norms) + 2 * (s.vocab + addedTokens) * s.hidden + s.hidden;
}

/** The shape of a known Hub model, or of a local model directory's config.json. */
export function modelShape(baseModel: string): ModelShape {
  const known = KNOWN[baseModel];
  if (known) return known;
  let cfg: Record<string, number>;
  try {
    cfg = JSON.parse(readFileSync(join(baseModel, 'config.json'), 'utf8')) as Record<string, number>;
  } catch {
    throw new UserlmError(
      `--base-model ${baseModel}: its shape is unknown here (known: ${Object.keys(KNOWN).join(', ')}); pass a local model directory with a config.json so the memory estimate can be made`,
    );
  }
  const need = ['hidden_size', 'num_hidden_layers', 'intermediate_size', 'num_attention_heads', 'vocab_size'];
  const missing = need.filter((k) => typeof cfg[k] !== 'number');
  if (missing.length) throw new UserlmError(`${join(baseModel, 'config.json')} lacks ${missing.join(', ')}; is it a Llama-family model?`);
  return {
    hidden: cfg['hidden_size']!,
    layers: cfg['num_hidden_layers']!,
    intermediate: cfg['intermediate_size']!,
    heads: cfg['num_attention_heads']!,
    kvHeads: cfg['num_key_value_heads'] ?? cfg['num_attention_heads']!,
    vocab: cfg['vocab_size']!,
  };
}
