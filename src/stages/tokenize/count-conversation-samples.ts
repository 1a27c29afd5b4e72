import type { ChatMessage } from '../flip/flip-conversation.js';
import type { BpeTokenizer } from './bpe-tokenizer.js';
import { generationPrompt, renderMessage, type ChatFormat } from './chat-format.js';
import { fitSample, type OverflowPolicy } from './fit-sample.js';

export interface SampleTokens {
  turn_index: number;
  num_tokens: number;
  num_target_tokens: number;
  history_messages_dropped: number;
  too_long: boolean;
}

export interface CountOptions {
  maxSeqLen: number;
  overflow: OverflowPolicy;
  endToken: string;
  format: ChatFormat;
}

/**
 * Token counts of the K+1 samples of one conversation (messages: user/assistant, strictly
 * alternating, ending with an assistant reply). Every message is tokenized once: its
 * rendering starts and ends with special tokens, so a sample's length is the sum of its
 * messages' counts, and the work is linear in the conversation's text, not in the
 * (quadratic) text of its samples. textChars reports how much text was tokenized.
 */
export function countConversationSamples(
  tok: BpeTokenizer,
  intent: string,
  messages: ChatMessage[],
  o: CountOptions,
): { samples: SampleTokens[]; textChars: number } {
  const n = messages.length;
  const counts = new Int32Array(n);
  let textChars = intent.length;
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    counts[i] = tok.count(renderMessage(o.format, m.role, m.content));
    textChars += m.content.length;
  }
  // The prompt ends with the user header opened for the target, so the target's whole user
  // message (header, content, <|eot_id|>) is the header plus the trained completion.
  const start = tok.count(o.format.start);
  const system = tok.count(renderMessage(o.format, 'system', intent));
  const genPrompt = tok.count(generationPrompt(o.format));
  const end = tok.count(renderMessage(o.format, 'user', o.endToken));
  const k = n >> 1;
  const samples: SampleTokens[] = [];
  for (let t = 1; t <= k + 1; t++) {
    const targetMsg = t <= k ? counts[2 * (t - 1)]! : end;
    const fit = fitSample(start + system + targetMsg, counts, 2 * (t - 1), o.maxSeqLen, o.overflow);
    samples.push({
      turn_index: t,
      num_tokens: fit.tokens,
      num_target_tokens: targetMsg - genPrompt,
      history_messages_dropped: fit.historyDropped,
      too_long: fit.tooLong,
    });
  }
  return { samples, textChars };
}
