import type OpenAI from 'openai';
import type { Logger } from '../../core/logger.js';
import { ChatCaller } from '../../llm/chat-caller.js';
import { RateLimiter } from '../../llm/rate-limiter.js';
import type { IntentLlm } from './intent-llm-setup.js';

/** The caller the openai backend uses, with what to tell the user when the endpoint refuses everything. */
export function intentChatCaller(llm: IntentLlm, client: OpenAI, baseURL: string, pipelineFile: string, log: Logger): ChatCaller {
  const { o, meter } = llm;
  const where = `${pipelineFile} stages.intents`;
  return new ChatCaller({
    client,
    concurrency: o.concurrency,
    limiter: new RateLimiter({ requestsPerMinute: o.requests_per_minute, tokensPerMinute: o.tokens_per_minute }),
    maxRetries: o.max_retries,
    backoff: { initialMs: o.backoff_initial_ms, maxMs: o.backoff_max_ms },
    timeoutMs: o.timeout_s * 1000,
    meter,
    log,
    fatalHint: (f) =>
      `${baseURL} refused every request (${f.status === null ? '' : `HTTP ${f.status}: `}${f.message}). ` +
      (f.status === 401 || f.status === 403
        ? `Check the API key in the environment variable ${o.api_key_env} (${where}.api_key_env).`
        : f.status === 404
          ? `Check the model name (${where}.model = ${o.model}) and the URL (${where}.base_url).`
          : f.status === 429
            ? 'The account is out of quota: add credit or use another key, then rerun (answers so far are cached).'
            : `Check ${where}.base_url and that the server speaks the OpenAI chat completions API.`),
  });
}
