import type { BpeTokenizer } from './bpe-tokenizer.js';
import { generationPrompt, renderMessage, type ChatFormat } from './chat-format.js';
import { fitSample, type OverflowPolicy } from './fit-sample.js';

export interface CountOptions {
  maxSeqLen: number;
  overflow: OverflowPolicy;
  endToken: string;
  format: ChatFormat;
}

/**
 * Conversations as the tokenize stage streams them to a counter: conversation i has
 * intents[i] and the messages offsets[i] .. offsets[i+1] of roles/contents (user/assistant,
 * strictly alternating, ending with an assistant reply). Flat arrays, so a batch crosses to
 * a worker thread as a few arrays rather than an object per message.
 */
export interface ConversationBatch {
  intents: string[];
  roles: string[];
  contents: string[];
  offsets: Int32Array;
}

/**
 * Per sample of a batch, in conversation order then turn order: conversation i's K+1
 * samples are sampleOffsets[i] .. sampleOffsets[i+1].
 */
export interface BatchCounts {
  sampleOffsets: Int32Array;
  numTokens: Int32Array;
  numTargetTokens: Int32Array;
  historyDropped: Int32Array;
  tooLong: Uint8Array;
  /** Characters of text tokenized (intents and messages). */
  textChars: number;
}

/**
 * Token counts of every sample of a batch. Every message is tokenized once: its rendering
 * starts and ends with special tokens, so a sample's length is the sum of its messages'
 * counts, and the work is linear in the conversations' text, not in the (quadratic) text of
 * their samples.
 */
export function countBatch(tok: BpeTokenizer, batch: ConversationBatch, o: CountOptions): BatchCounts {
  const n = batch.intents.length;
  const offsets = batch.offsets;
  const totalMessages = offsets[n]!;
  // K+1 samples per conversation of 2K messages.
  const sampleOffsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) sampleOffsets[i + 1] = sampleOffsets[i]! + ((offsets[i + 1]! - offsets[i]!) >> 1) + 1;
  const s = sampleOffsets[n]!;
  const numTokens = new Int32Array(s);
  const numTargetTokens = new Int32Array(s);
  const historyDropped = new Int32Array(s);
  const tooLong = new Uint8Array(s);
  const counts = new Int32Array(totalMessages);
  // The prompt ends with the user header opened for the target, so the target's whole user
  // message (header, content, <|eot_id|>) is the header plus the trained completion.
  const start = tok.count(o.format.start);
  const genPrompt = tok.count(generationPrompt(o.format));
  const end = tok.count(renderMessage(o.format, 'user', o.endToken));
  let textChars = 0;
  for (let i = 0; i < n; i++) {
    const intent = batch.intents[i]!;
    const from = offsets[i]!;
    const m = offsets[i + 1]! - from;
    textChars += intent.length;
    for (let j = from; j < from + m; j++) {
      const content = batch.contents[j]!;
      counts[j] = tok.count(renderMessage(o.format, batch.roles[j]!, content));
      textChars += content.length;
    }
    const history = counts.subarray(from, from + m);
    const system = tok.count(renderMessage(o.format, 'system', intent));
    const k = m >> 1;
    let at = sampleOffsets[i]!;
    for (let t = 1; t <= k + 1; t++, at++) {
      const target = t <= k ? history[2 * (t - 1)]! : end;
      const fit = fitSample(start + system + target, history, 2 * (t - 1), o.maxSeqLen, o.overflow);
      numTokens[at] = fit.tokens;
      numTargetTokens[at] = target - genPrompt;
      historyDropped[at] = fit.historyDropped;
      tooLong[at] = fit.tooLong ? 1 : 0;
    }
  }
  return { sampleOffsets, numTokens, numTargetTokens, historyDropped, tooLong, textChars };
}

/** The typed arrays of a result, to transfer to another thread rather than copy. */
export function countBuffers(c: BatchCounts): ArrayBuffer[] {
  return [c.sampleOffsets.buffer, c.numTokens.buffer, c.numTargetTokens.buffer, c.historyDropped.buffer, c.tooLong.buffer] as ArrayBuffer[];
}
