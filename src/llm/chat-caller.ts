import type OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import pLimit, { type LimitFunction } from 'p-limit';
import { RetryableError, StageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { classifyLlmError, type LlmFailure } from './classify-llm-error.js';
import type { RateLimiter } from './rate-limiter.js';
import type { CachedResponse } from './response-cache.js';
import { retryDelayMs, type BackoffOptions } from './retry-delay.js';
import type { UsageMeter } from './usage-meter.js';

export interface ChatCallerOptions {
  client: OpenAI;
  /** Requests in flight at once. */
  concurrency: number;
  limiter: RateLimiter;
  /** Retries of one request after a retryable failure; then the call throws RetryableError. */
  maxRetries: number;
  backoff: BackoffOptions;
  timeoutMs: number;
  meter: UsageMeter;
  /** What to tell the user when nothing can succeed (a bad key, model or URL). */
  fatalHint: (f: Extract<LlmFailure, { kind: 'fatal' }>) => string;
  log?: Logger;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

class MalformedAnswer extends Error {}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One chat completion with everything around it: a concurrency cap, the rate limiter,
 * timeouts, and retries with backoff that honour Retry-After. The client's own retries are
 * off so that every attempt passes the limiter and is counted.
 */
export class ChatCaller {
  private readonly limit: LimitFunction;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly o: ChatCallerOptions) {
    this.limit = pLimit(o.concurrency);
    this.sleep = o.sleep ?? defaultSleep;
    this.random = o.random ?? Math.random;
  }

  get inFlight(): number {
    return this.limit.activeCount;
  }

  /** The answer or the endpoint's refusal; throws when retries run out or nothing can succeed. */
  async complete(body: ChatCompletionCreateParamsNonStreaming, estimatedTokens: number): Promise<CachedResponse> {
    const { meter } = this.o;
    for (let retry = 0; ; retry++) {
      let failure: LlmFailure;
      try {
        return await this.limit(() => this.attempt(body, estimatedTokens));
      } catch (e) {
        failure = e instanceof MalformedAnswer ? { kind: 'retry', reason: 'malformed', message: e.message } : classifyLlmError(e);
      }
      if (failure.kind === 'rejected') {
        meter.rejected++;
        return { kind: 'rejected', message: `HTTP ${failure.status}: ${failure.message}`.slice(0, 500) };
      }
      if (failure.kind === 'fatal') throw new StageError(this.o.fatalHint(failure), { cause: failure });
      if (failure.reason === 'rate_limited') meter.rateLimited++;
      else if (failure.reason === 'server_error') meter.serverErrors++;
      else if (failure.reason === 'timeout') meter.timeouts++;
      else if (failure.reason === 'connection') meter.connectionErrors++;
      else meter.malformed++;
      if (retry >= this.o.maxRetries) {
        throw new RetryableError(
          `a request still failed after ${retry} retries (last: ${failure.reason}: ${failure.message}); ` +
            'the endpoint is down or overloaded: rerun later (answers so far are cached and will not be paid for again), or raise stages.intents.max_retries',
        );
      }
      meter.retries++;
      const delay = retryDelayMs(retry, failure.headers, this.o.backoff, this.random);
      // A 429 speaks for the whole account: everyone waits, not just this request.
      if (failure.reason === 'rate_limited') this.o.limiter.pauseFor(delay);
      await this.sleep(delay);
    }
  }

  private async attempt(body: ChatCompletionCreateParamsNonStreaming, estimatedTokens: number): Promise<CachedResponse> {
    const { meter, limiter } = this.o;
    await limiter.acquire(estimatedTokens);
    meter.requests++;
    const res = await this.o.client.chat.completions.create(body, { timeout: this.o.timeoutMs, maxRetries: 0 });
    const choices = (res as { choices?: unknown }).choices;
    if (!Array.isArray(choices)) throw new MalformedAnswer('answer without choices');
    const promptTokens = res.usage?.prompt_tokens ?? 0;
    const completionTokens = res.usage?.completion_tokens ?? 0;
    if (res.usage) limiter.adjust(promptTokens + completionTokens - estimatedTokens);
    meter.answers++;
    meter.addUsage(promptTokens, completionTokens);
    const content = (choices[0] as { message?: { content?: unknown } } | undefined)?.message?.content;
    return { kind: 'answer', text: typeof content === 'string' ? content : null, promptTokens, completionTokens };
  }
}
