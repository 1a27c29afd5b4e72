import { sqlString, toNumber } from '../../core/db.js';
import { StageError } from '../../core/errors.js';
import { startProgress } from '../../core/progress.js';
import type { StageContext } from '../../core/stage.js';
import { ChatCaller } from '../../llm/chat-caller.js';
import { createOpenAIClient } from '../../llm/openai-client.js';
import { RateLimiter } from '../../llm/rate-limiter.js';
import type { ChatTurn } from '../../llm/render-conversation.js';
import type { UsageSummary } from '../../llm/usage-meter.js';
import { IntentSink } from './intent-sink.js';
import { backendLabel, openIntentLlm, type IntentLlm } from './intent-llm-setup.js';
import { resolveIntent, type IntentResolution } from './resolve-intent.js';

/**
 * The openai backend: one chat completion per conversation, at most `concurrency` in flight,
 * paced by the rate limiter, every answer cached the moment it arrives. Conversations whose
 * answers are all cached cost no request.
 */
export async function generateOnlineIntents(ctx: StageContext): Promise<{ notes: Record<string, unknown> }> {
  const { db, pipeline, dir, input, log } = ctx;
  const llm = await openIntentLlm(pipeline, log, 1);
  const { o, builder, cache, meter } = llm;
  const { client, baseURL } = createOpenAIClient(o, pipeline.file);
  const where = `${pipeline.file} stages.intents`;
  const caller = new ChatCaller({
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
  log.info('intents.llm', `intents from ${o.model} at ${baseURL} (concurrency ${o.concurrency}); ${cache.size} cached answer(s) in ${cache.path}`, {
    model: o.model,
    base_url: baseURL,
    cached: cache.size,
  });

  // Counted before streaming: another query on the connection would end the stream.
  const total = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(input!)})`)).n);
  const sink = await IntentSink.open(db);
  const progress = startProgress(log, 'intents', total, 'conversations', () => ({
    text: meter.brief(),
    fields: { requests: meter.requests, retries: meter.retries, cache_hits: meter.cacheHits, tokens: meter.promptTokens + meter.completionTokens, cost_usd: meter.costUsd() },
  }));
  const window = o.concurrency * 2 + 32;
  let pending = 0;
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  let rejectedLogged = 0;

  const settle = (id: string, r: IntentResolution) => {
    if (r.status === 'intent') sink.intent(id, r.intent);
    else if (r.status === 'drop') {
      sink.drop(id, r.reason);
      if (r.reason === 'intent_rejected' && rejectedLogged++ < 5) log.warn('intents.rejected', `${id}: the endpoint refused the request; dropped as intent_rejected`, { conversation_id: id });
    }
    progress.tick(1);
  };

  const ask = async (id: string, rendered: string, first: Extract<IntentResolution, { status: 'need' }>) => {
    let r: IntentResolution = first;
    while (r.status === 'need') {
      const answer = await caller.complete(builder.body(rendered, r.attempt), builder.estimateTokens(rendered));
      cache.put(r.key, answer);
      const before = r.invalid;
      r = resolveIntent(cache, builder, rendered, llm.bounds, o.max_invalid_retries);
      meter.invalidAnswers += r.invalid - before;
    }
    settle(id, r);
  };

  const result = await db.conn.stream(`SELECT conversation_id, messages FROM read_parquet(${sqlString(input!)})`);
  try {
    outer: for await (const rows of result.yieldRowObjectJs()) {
      for (const row of rows) {
        if (failure) break outer;
        const id = String(row['conversation_id']);
        const rendered = builder.render((row['messages'] ?? []) as unknown as ChatTurn[]);
        const r = resolveIntent(cache, builder, rendered, llm.bounds, o.max_invalid_retries);
        meter.cacheHits += r.cacheHits;
        if (r.status !== 'need') {
          settle(id, r);
          continue;
        }
        pending++;
        ask(id, rendered, r)
          .catch((e: unknown) => {
            failure ??= e;
          })
          .finally(() => {
            pending--;
            wake?.();
          });
        while (pending >= window) await new Promise<void>((res) => (wake = res));
      }
    }
    while (pending > 0) await new Promise<void>((res) => (wake = res));
  } finally {
    progress.stop();
    sink.close();
    await cache.close();
  }
  const summary: UsageSummary = meter.summary();
  if (failure) {
    const msg = (failure as Error).message;
    log.warn('intents.usage', `intents stopped: ${JSON.stringify(summary)}`, { llm: summary });
    throw failure instanceof StageError ? failure : new StageError(`stage intents: ${msg}`, { cause: failure });
  }
  await sink.write(input!, dir, backendLabel(o));
  log.info('intents.usage', usageLine(summary), { llm: summary });
  return { notes: { llm: summary, prompt: { file: builder.prompt.file, id: builder.prompt.id, version: builder.prompt.version, sha256: builder.prompt.sha256 } } };
}

export function usageLine(s: UsageSummary): string {
  return (
    `intents: ${s.requests} request(s), ${s.retries} retr${s.retries === 1 ? 'y' : 'ies'}, ${s.cache_hits} cache hit(s), ` +
    `${s.invalid_answers} invalid answer(s), ${s.prompt_tokens + s.completion_tokens} tokens` +
    (s.cost_usd === null ? '' : `, about $${s.cost_usd.toFixed(2)}`)
  );
}
