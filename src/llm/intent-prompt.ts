import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import type { ChatTurn } from './render-conversation.js';

export interface IntentExample {
  messages: ChatTurn[];
  intent: string;
}

export interface IntentPrompt {
  file: string;
  id: string;
  version: number;
  system: string;
  examples: IntentExample[];
  /** Holds {conversation}. */
  userTemplate: string;
  /** Of the file's bytes: an edit without a version bump still changes the cache key. */
  sha256: string;
}

/** Read and check a prompt file (pipelines/prompts/*.yaml); every problem is reported at once. */
export async function loadIntentPrompt(file: string, requiredPrefix: string, where: string): Promise<IntentPrompt> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: where, path: 'stages.intents.prompt', message: `cannot read the prompt file ${file}: ${(e as Error).message}; fix the path` }]);
  }
  const problems: string[] = [];
  let doc: Record<string, unknown> = {};
  try {
    const parsed: unknown = parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) doc = parsed as Record<string, unknown>;
    else problems.push('must be a mapping with id, version, system, examples and user_template');
  } catch (e) {
    problems.push(`YAML syntax: ${(e as Error).message.split('\n')[0]}`);
  }
  const str = (k: string) => {
    const v = doc[k];
    if (typeof v !== 'string' || v.trim() === '') problems.push(`${k}: must be a non-empty string`);
    return typeof v === 'string' ? v : '';
  };
  const id = str('id');
  const system = str('system');
  const userTemplate = str('user_template');
  if (userTemplate && !userTemplate.includes('{conversation}')) problems.push('user_template: must contain {conversation}');
  const version = doc['version'];
  if (!Number.isInteger(version) || (version as number) < 1) problems.push('version: must be a whole number >= 1');
  const examples: IntentExample[] = [];
  if (!Array.isArray(doc['examples']) || doc['examples'].length === 0) problems.push('examples: must be a non-empty list');
  else {
    doc['examples'].forEach((ex: unknown, i: number) => {
      const e = (ex ?? {}) as { messages?: unknown; intent?: unknown };
      const msgs = Array.isArray(e.messages) ? e.messages : [];
      const turns = msgs.filter((m): m is ChatTurn => !!m && typeof m === 'object' && typeof (m as ChatTurn).role === 'string' && typeof (m as ChatTurn).content === 'string');
      if (turns.length === 0 || turns.length !== msgs.length) problems.push(`examples[${i}].messages: must be a list of {role, content}`);
      if (typeof e.intent !== 'string' || !e.intent.startsWith(requiredPrefix)) problems.push(`examples[${i}].intent: must start with "${requiredPrefix}"`);
      examples.push({ messages: turns, intent: typeof e.intent === 'string' ? e.intent.trim() : '' });
    });
  }
  if (problems.length) throw new ConfigError(problems.map((message) => ({ file, path: '', message: `${message} (prompt file named by ${where} stages.intents.prompt)` })));
  return { file, id, version: version as number, system, examples, userTemplate, sha256: sha256Hex(text) };
}
