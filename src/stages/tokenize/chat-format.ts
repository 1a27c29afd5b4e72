import { Template } from '@huggingface/jinja';
import type { ChatMessage } from '../flip/flip-conversation.js';
import type { BpeTokenizer } from './bpe-tokenizer.js';

// The training formats. Each is a Jinja chat template (what the trainer's tokenizer loads and
// saves with the model) plus the same layout as plain strings, which the tokenize stage uses
// to count one message at a time. checkChatFormat renders the template with
// @huggingface/jinja and refuses a layout that differs from it, so the counts cannot drift
// from what the trainer tokenizes.

export const BOS = '<|begin_of_text|>';
export const START_HEADER = '<|start_header_id|>';
export const END_HEADER = '<|end_header_id|>';
export const EOT = '<|eot_id|>';
export const CHAT_SPECIAL_TOKENS = [BOS, START_HEADER, END_HEADER, EOT] as const;

export const CHAT_FORMAT_NAMES = ['userlm-8b', 'llama3'] as const;
export type ChatFormatName = (typeof CHAT_FORMAT_NAMES)[number];

export interface ChatFormat {
  name: ChatFormatName;
  /** The Jinja chat template, as written to chat_template.jinja. */
  template: string;
  /** Written before the first message. */
  start: string;
  /** Between a message's header and its content. */
  headerSep: string;
  /** Appended after the last message: always (userlm-8b), or only with add_generation_prompt (llama3). */
  userHeaderAlways: boolean;
}

/**
 * microsoft/UserLM-8b's template as served (FACTS.md): no begin-of-text, one newline after
 * each header, and a user header always appended, so generation opens a user turn whose text
 * starts with the newline.
 */
const USERLM_8B_TEMPLATE =
  `{%- for message in messages %}` +
  `{{- '${START_HEADER}' + message['role'] + '${END_HEADER}\\n' + message['content'] + '${EOT}' }}` +
  `{%- endfor %}` +
  `{{- '${START_HEADER}user${END_HEADER}' }}`;

/**
 * Llama-3-Instruct's layout with the roles kept and the generation prompt opening a user
 * turn. Content is not trimmed (Llama-3-Instruct's template trims): the dataset's text is
 * what the user typed, and the counts must match it.
 */
const LLAMA3_TEMPLATE =
  `{{- '${BOS}' }}` +
  `{%- for message in messages %}` +
  `{{- '${START_HEADER}' + message['role'] + '${END_HEADER}\\n\\n' + message['content'] + '${EOT}' }}` +
  `{%- endfor %}` +
  `{%- if add_generation_prompt %}{{- '${START_HEADER}user${END_HEADER}\\n\\n' }}{%- endif %}`;

export const CHAT_FORMATS: Record<ChatFormatName, ChatFormat> = {
  'userlm-8b': { name: 'userlm-8b', template: USERLM_8B_TEMPLATE, start: '', headerSep: '\n', userHeaderAlways: true },
  llama3: { name: 'llama3', template: LLAMA3_TEMPLATE, start: BOS, headerSep: '\n\n', userHeaderAlways: false },
};

export function chatFormat(name: ChatFormatName): ChatFormat {
  const f = CHAT_FORMATS[name];
  if (!f) throw new Error(`unknown chat format ${String(name)}; known: ${CHAT_FORMAT_NAMES.join(', ')}`);
  return f;
}

export function renderMessage(f: ChatFormat, role: string, content: string): string {
  return `${START_HEADER}${role}${END_HEADER}${f.headerSep}${content}${EOT}`;
}

/** What the template puts after the last message when asked for a generation prompt. */
export function generationPrompt(f: ChatFormat): string {
  return f.userHeaderAlways ? `${START_HEADER}user${END_HEADER}` : `${START_HEADER}user${END_HEADER}${f.headerSep}`;
}

/** The prompt as the trainer renders it with add_generation_prompt. */
export function renderPrompt(f: ChatFormat, messages: ChatMessage[]): string {
  return f.start + messages.map((m) => renderMessage(f, m.role, m.content)).join('') + generationPrompt(f);
}

/** The completion the model learns after the prompt: the rest of the target's user turn. */
export function renderCompletion(f: ChatFormat, target: string): string {
  return renderMessage(f, 'user', target).slice(generationPrompt(f).length);
}

/** The whole training sequence: the prompt, then the target's turn up to its <|eot_id|>. */
export function renderTrainingText(f: ChatFormat, messages: ChatMessage[], target: string): string {
  return renderPrompt(f, messages) + renderCompletion(f, target);
}

const compiled = new Map<string, Template>();

/** The chat template rendered by a Jinja engine, as transformers' apply_chat_template renders it. */
export function renderWithTemplate(template: string, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  let t = compiled.get(template);
  if (!t) compiled.set(template, (t = new Template(template)));
  return t.render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: BOS, eos_token: EOT });
}

const checked = new Set<string>();

/**
 * Throws when the format's string layout renders any probe differently from its Jinja
 * template (contents with edge whitespace included, which a trimming template would change).
 * The training text is checked as the trainer script builds it: the template's rendering of
 * the prompt and of prompt + target, without what the template appends after the last message.
 */
export function checkChatFormat(f: ChatFormat): void {
  if (checked.has(f.name)) return;
  const probes: ChatMessage[][] = [
    [],
    [{ role: 'system', content: ' intent \n' }],
    [
      { role: 'system', content: 'goal' },
      { role: 'user', content: '\n  first turn ' },
      { role: 'assistant', content: 'reply\n\n' },
    ],
  ];
  const target = '\nnext turn ';
  for (const p of probes) {
    const prompt = renderWithTemplate(f.template, p, true);
    if (prompt !== renderPrompt(f, p)) throw new Error(`chat format ${f.name}: the template renders the prompt ${JSON.stringify(prompt)}, the layout ${JSON.stringify(renderPrompt(f, p))}`);
    const full = renderWithTemplate(f.template, [...p, { role: 'user', content: target }], false);
    const expected = renderTrainingText(f, p, target) + templateTrailer(f);
    if (full !== expected) throw new Error(`chat format ${f.name}: the template renders the training text ${JSON.stringify(full)}, the layout ${JSON.stringify(expected)}`);
  }
  checked.add(f.name);
}

/** What the template appends after the last message even without add_generation_prompt; the trainer script cuts it off the training text. */
export function templateTrailer(f: ChatFormat): string {
  return f.userHeaderAlways ? generationPrompt(f) : '';
}

export interface EncodedSample {
  ids: number[];
  /** 1 where the trainer computes the loss. */
  mask: Uint8Array;
}

/**
 * Ids and loss mask as a prompt/completion trainer builds them: the ids of the whole text,
 * with the loss on every id after the tokenized prompt (TRL's completion_mask rule).
 */
export function encodeTrainingSample(f: ChatFormat, tok: BpeTokenizer, messages: ChatMessage[], target: string): EncodedSample {
  const ids = tok.encode(renderTrainingText(f, messages, target));
  const promptLen = tok.count(renderPrompt(f, messages));
  const mask = new Uint8Array(ids.length);
  mask.fill(1, Math.min(promptLen, ids.length));
  return { ids, mask };
}
