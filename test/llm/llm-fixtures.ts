import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ALWAYS_INVALID } from '../servers/openai-compatible-server.js';
import { ROOT } from '../helpers.js';

export const PROMPT_V1 = join(ROOT, 'pipelines', 'prompts', 'intent-v1.yaml');

const TOPICS = ['a birthday party', 'a python script', 'a job interview', 'a trip to the coast', 'a sore back', 'a chess opening', 'a cover letter', 'a leaking tap'];

/**
 * A ShareGPT JSONL corpus of n distinct English conversations (one to three user turns);
 * those whose index is in `poison` carry the marker that makes the test server answer
 * invalidly every time.
 */
export function writeConversations(dir: string, n: number, poison: ReadonlySet<number> = new Set(), name = 'conversations.jsonl'): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const topic = TOPICS[i % TOPICS.length]!;
    const turns: { from: string; value: string }[] = [];
    const userTurns = 1 + (i % 3);
    for (let t = 0; t < userTurns; t++) {
      turns.push({ from: 'human', value: `Request ${i}.${t}: help me with ${topic}${poison.has(i) && t === 0 ? ` ${ALWAYS_INVALID}` : ''}, please.` });
      turns.push({ from: 'gpt', value: `Here is some help with ${topic} (answer ${i}.${t}). `.repeat(1 + (i % 5)) });
    }
    lines.push(JSON.stringify({ id: `c${i}`, conversations: turns }));
  }
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** A pipeline over that corpus whose intents stage talks to a local server. */
export function llmPipelineYaml(dir: string, corpus: string, intents: Record<string, unknown>): string {
  return stringify({
    name: 'llm-test',
    seed: 7,
    run_dir: join(dir, 'runs'),
    out_dir: join(dir, 'out'),
    sources: [{ name: 'logs', type: 'generic', preset: 'sharegpt', files: [corpus], language: 'English' }],
    // The corpus is templated by construction (it differs in numbers, which dedup folds):
    // near-dup and template removal would rightly collapse it.
    stages: { dedup: { near: { enabled: false }, templates: { enabled: false } }, intents: { prompt: PROMPT_V1, ...intents } },
  });
}
