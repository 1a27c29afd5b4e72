import { RetryableError, StageError } from '../core/errors.js';
import { classifyLlmError } from './classify-llm-error.js';
import { retryDelayMs, type BackoffOptions } from './retry-delay.js';

export interface WithRetriesOptions extends BackoffOptions {
  maxRetries: number;
  /** What the call does, for messages ("upload batch file input-0-1.jsonl"). */
  what: string;
  onRetry?: () => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** One API call (file upload, batch poll, ...) retried on 429, 5xx, timeouts and connection errors. */
export async function withRetries<T>(fn: () => Promise<T>, o: WithRetriesOptions): Promise<T> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let retry = 0; ; retry++) {
    try {
      return await fn();
    } catch (e) {
      const f = classifyLlmError(e);
      if (f.kind !== 'retry') throw new StageError(`${o.what} failed: ${f.message}`, { cause: e });
      if (retry >= o.maxRetries) throw new RetryableError(`${o.what} still failed after ${retry} retries (${f.reason}: ${f.message}); rerun later: submitted batches are resumed, not paid again`);
      o.onRetry?.();
      await sleep(retryDelayMs(retry, f.headers, o, o.random));
    }
  }
}
