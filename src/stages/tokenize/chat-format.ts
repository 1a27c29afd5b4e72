import type { ChatMessage } from '../flip/flip-conversation.js';
import type { BpeTokenizer } from './bpe-tokenizer.js';

// The UserLM training format: Llama-3's chat layout with the roles as they are (the model
// speaks as "user"), and the generation prompt opening a *user* turn. The trainer gets the
// same layout as a Jinja template (CHAT_TEMPLATE), so the counts here are the trainer's.

export const BOS = '<|begin_of_text|>';
export const START_HEADER = '<|start_header_id|>';
export const END_HEADER = '<|end_header_id|>';
export const EOT = '<|eot_id|>';
export const CHAT_SPECIAL_TOKENS = [BOS, START_HEADER, END_HEADER, EOT] as const;

/** What a trainer appends to the prompt before the turn it learns: the user header. */
export const GENERATION_PROMPT = `${START_HEADER}user${END_HEADER}\n\n`;

export function renderMessage(role: string, content: string): string {
  return `${START_HEADER}${role}${END_HEADER}\n\n${content}${EOT}`;
}

/** The prompt as the trainer renders it with add_generation_prompt. */
export function renderPrompt(messages: ChatMessage[]): string {
  return BOS + messages.map((m) => renderMessage(m.role, m.content)).join('') + GENERATION_PROMPT;
}

/** The whole training sequence: context, then the target as a user turn. */
export function renderTrainingText(messages: ChatMessage[], target: string): string {
  return BOS + messages.map((m) => renderMessage(m.role, m.content)).join('') + renderMessage('user', target);
}

/**
 * Jinja chat template for the trainer's tokenizer. Content is not trimmed (Llama-3-Instruct's
 * template trims): the dataset's text is what the user typed, and the counts must match it.
 */
export const CHAT_TEMPLATE =
  `{{- '${BOS}' }}` +
  `{%- for message in messages %}` +
  `{{- '${START_HEADER}' + message['role'] + '${END_HEADER}\\n\\n' + message['content'] + '${EOT}' }}` +
  `{%- endfor %}` +
  `{%- if add_generation_prompt %}{{- '${START_HEADER}user${END_HEADER}\\n\\n' }}{%- endif %}`;

export interface EncodedSample {
  ids: number[];
  /** 1 where the trainer computes the loss. */
  mask: Uint8Array;
}

/**
 * Ids and loss mask as a prompt/completion trainer builds them: the ids of the whole text,
 * with the loss on every id after the tokenized prompt (TRL's completion_mask rule).
 */
export function encodeTrainingSample(tok: BpeTokenizer, messages: ChatMessage[], target: string): EncodedSample {
  const ids = tok.encode(renderTrainingText(messages, target));
  const promptLen = tok.count(renderPrompt(messages));
  const mask = new Uint8Array(ids.length);
  mask.fill(1, Math.min(promptLen, ids.length));
  return { ids, mask };
}
