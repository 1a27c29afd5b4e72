import type { ChatMessage } from '../flip/flip-conversation.js';
import type { BpeTokenizer } from './bpe-tokenizer.js';
import { countBatch, type CountOptions } from './count-batch.js';

export type { CountOptions };

export interface SampleTokens {
  turn_index: number;
  num_tokens: number;
  num_target_tokens: number;
  history_messages_dropped: number;
  too_long: boolean;
}

/**
 * Token counts of the K+1 samples of one conversation (messages: user/assistant, strictly
 * alternating, ending with an assistant reply): countBatch on a batch of one, as objects.
 * textChars reports how much text was tokenized.
 */
export function countConversationSamples(
  tok: BpeTokenizer,
  intent: string,
  messages: ChatMessage[],
  o: CountOptions,
): { samples: SampleTokens[]; textChars: number } {
  const c = countBatch(tok, { intents: [intent], roles: messages.map((m) => m.role), contents: messages.map((m) => m.content), offsets: Int32Array.of(0, messages.length) }, o);
  const samples: SampleTokens[] = [];
  for (let i = 0; i < c.numTokens.length; i++) {
    samples.push({ turn_index: i + 1, num_tokens: c.numTokens[i]!, num_target_tokens: c.numTargetTokens[i]!, history_messages_dropped: c.historyDropped[i]!, too_long: c.tooLong[i] === 1 });
  }
  return { samples, textChars: c.textChars };
}
