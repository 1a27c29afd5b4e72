import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { canonicalJson, sha256Hex } from '../core/hash.js';
import type { IntentPrompt } from './intent-prompt.js';
import { renderConversation, type ChatTurn, type RenderBudget } from './render-conversation.js';

export interface IntentRequestParams extends RenderBudget {
  model: string;
  temperature: number;
  /** For attempts after an invalid answer. */
  retryTemperature: number;
  maxTokens: number;
  /** The base URL asked: another server may answer differently under the same model name. */
  endpoint: string;
}

/**
 * Turns a conversation into the chat request that asks for its intent, and names that
 * request: the cache key hashes everything that decides the answer (endpoint, model, prompt
 * id, version and text, parameters, rendered conversation, attempt number), nothing else.
 */
export class IntentRequestBuilder {
  private readonly fixed: ChatCompletionMessageParam[];
  private readonly keyPrefix: string;
  private readonly templateParts: [string, string];
  private readonly fixedChars: number;

  constructor(
    readonly prompt: IntentPrompt,
    readonly params: IntentRequestParams,
  ) {
    const i = prompt.userTemplate.indexOf('{conversation}');
    this.templateParts = [prompt.userTemplate.slice(0, i), prompt.userTemplate.slice(i + '{conversation}'.length)];
    this.fixed = [{ role: 'system', content: prompt.system }];
    for (const ex of prompt.examples) {
      this.fixed.push({ role: 'user', content: this.userMessage(this.render(ex.messages)) });
      this.fixed.push({ role: 'assistant', content: ex.intent });
    }
    this.fixedChars = this.fixed.reduce((a, m) => a + (typeof m.content === 'string' ? m.content.length : 0), 0);
    this.keyPrefix = canonicalJson({
      endpoint: params.endpoint,
      model: params.model,
      prompt: { id: prompt.id, version: prompt.version, sha256: prompt.sha256 },
      params: { temperature: params.temperature, retry_temperature: params.retryTemperature, max_tokens: params.maxTokens },
    });
  }

  render(turns: readonly ChatTurn[]): string {
    return renderConversation(turns, this.params);
  }

  private userMessage(rendered: string): string {
    return this.templateParts[0] + rendered + this.templateParts[1];
  }

  /** Attempt 0 is the first ask; later attempts follow invalid answers and must differ from it. */
  body(rendered: string, attempt: number): ChatCompletionCreateParamsNonStreaming {
    const body: ChatCompletionCreateParamsNonStreaming = {
      model: this.params.model,
      messages: [...this.fixed, { role: 'user', content: this.userMessage(rendered) }],
      temperature: attempt === 0 ? this.params.temperature : Math.max(this.params.temperature, this.params.retryTemperature),
      max_tokens: this.params.maxTokens,
    };
    if (attempt > 0) body.seed = attempt;
    return body;
  }

  key(rendered: string, attempt: number): string {
    return sha256Hex(`${this.keyPrefix}\0${attempt}\0${rendered}`);
  }

  /** Rough prompt + completion tokens (about 4 characters a token) for the tokens/min budget. */
  estimateTokens(rendered: string): number {
    return Math.ceil((this.fixedChars + rendered.length) / 4) + this.params.maxTokens;
  }
}
