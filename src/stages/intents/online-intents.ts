import { sqlString, toNumber } from '../../core/db.js';
import { StageError, UserlmError } from '../../core/errors.js';
import { startProgress, type Progress } from '../../core/progress.js';
import type { StageContext } from '../../core/stage.js';
import type { ChatCaller } from '../../llm/chat-caller.js';
import { InvalidAnswerGuard } from '../../llm/invalid-answer-guard.js';
import { createOpenAIClient } from '../../llm/openai-client.js';
import type { ChatTurn } from '../../llm/render-conversation.js';
import type { UsageMeter, UsageSummary } from '../../llm/usage-meter.js';
import { endpointBrokenError } from './endpoint-broken-error.js';
import { forEachBounded } from './for-each-bounded.js';
import { intentChatCaller } from './intent-chat-caller.js';
import { backendLabel, openIntentLlm, type IntentLlm } from './intent-llm-setup.js';
import { IntentSink } from './intent-sink.js';
import { resolveIntent, type IntentResolution } from './resolve-intent.js';

type Need = Extract<IntentResolution, { status: 'need' }>;

/**
 * Asks for one conversation's intent until it has one or is dropped: each answer is cached
 * the moment it arrives, and the cache decides what comes next. Returns the settled
 * resolution and the last answer's text (for the guard's message), or null when the stage
 * stopped meanwhile.
 */
async function askUntilSettled(llm: IntentLlm, caller: ChatCaller, rendered: string, first: Need, stopped: () => boolean): Promise<{ r: IntentResolution; last: string | null } | null> {
  const { o, builder, cache, meter } = llm;
  let r: IntentResolution = first;
  let last: string | null = null;
  while (r.status === 'need') {
    if (stopped()) return null;
    const answer = await caller.complete(builder.body(rendered, r.attempt), builder.estimateTokens(rendered));
    cache.put(r.key, answer);
    // The cache holds the redacted form: quote that, never the raw text.
    const stored = cache.get(r.key)!;
    last = stored.kind === 'answer' ? stored.text : `HTTP error: ${stored.message}`;
    const before = r.invalid;
    r = resolveIntent(cache, builder, rendered, llm.bounds, o.max_invalid_retries);
    meter.invalidAnswers += r.invalid - before;
  }
  return { r, last };
}

function liveProgress(ctx: StageContext, total: number, meter: UsageMeter): Progress {
  return startProgress(ctx.log, 'intents', total, 'conversations', () => ({
    text: meter.brief(),
    fields: { requests: meter.requests, retries: meter.retries, cache_hits: meter.cacheHits, tokens: meter.promptTokens + meter.completionTokens, cost_usd: meter.costUsd() },
  }));
}

/**
 * The openai backend: one chat completion per conversation, at most `concurrency` in flight,
 * paced by the rate limiter, every answer cached the moment it arrives. Conversations whose
 * answers are all cached (and valid) cost no request. The invalid-answer guard stops the
 * stage, before it writes anything, when the endpoint is answering nonsense.
 */
export async function generateOnlineIntents(ctx: StageContext): Promise<{ notes: Record<string, unknown> }> {
  const { db, pipeline, dir, input, log } = ctx;
  const llm = await openIntentLlm(pipeline, log, 1);
  const { o, builder, cache, meter } = llm;
  const { client, baseURL } = createOpenAIClient(o, pipeline.file);
  const caller = intentChatCaller(llm, client, baseURL, pipeline.file, log);
  log.info('intents.llm', `intents from ${o.model} at ${baseURL} (concurrency ${o.concurrency}); ${cache.size} cached answer(s) in ${cache.path}`, {
    model: o.model,
    base_url: baseURL,
    cached: cache.size,
  });

  // Counted before streaming: another query on the connection would end the stream.
  const total = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(input!)})`)).n);
  const sink = await IntentSink.open(db);
  const progress = liveProgress(ctx, total, meter);
  const guard = new InvalidAnswerGuard({ maxFraction: o.max_invalid_fraction, window: o.invalid_guard_window });
  let stop: UserlmError | null = null;
  let rejectedLogged = 0;

  /** `asked`: the rendered conversation when this process asked for some of its answers, null when the cache alone settled it. */
  const settle = (id: string, r: IntentResolution, last: string | null, asked: string | null) => {
    // Answers found on disk that decided the outcome, including those reached after asking again
    // (keys are hashed again only for conversations that were asked, not on a cached rerun).
    if (asked === null) meter.cacheHits += r.cacheHits;
    else for (let a = 0; a < r.cacheHits; a++) if (!cache.isFresh(builder.key(asked, a))) meter.cacheHits++;
    if (r.status === 'intent') sink.intent(id, r.intent);
    else if (r.status === 'drop') {
      sink.drop(id, r.reason);
      if (r.reason === 'intent_rejected' && rejectedLogged++ < 5) log.warn('intents.rejected', `${id}: the endpoint refused the request; dropped as intent_rejected`, { conversation_id: id });
    }
    guard.record(r.status === 'intent', last);
    const v = stop ? null : guard.check();
    if (v) stop = endpointBrokenError(v, baseURL, pipeline.file, o.max_invalid_fraction);
    progress.tick(1);
  };

  let failure: unknown = null;
  const result = await db.conn.stream(`SELECT conversation_id, messages FROM read_parquet(${sqlString(input!)})`);
  try {
    await forEachBounded(
      result.yieldRowObjectJs(),
      o.concurrency * 2 + 32,
      (row) => {
        const id = String(row['conversation_id']);
        const rendered = builder.render((row['messages'] ?? []) as unknown as ChatTurn[]);
        const r = resolveIntent(cache, builder, rendered, llm.bounds, o.max_invalid_retries);
        if (r.status !== 'need') {
          settle(id, r, null, null);
          return null;
        }
        return askUntilSettled(llm, caller, rendered, r, () => stop !== null).then((s) => {
          if (s) settle(id, s.r, s.last, rendered);
        });
      },
      () => stop !== null,
    );
  } catch (e) {
    failure = e;
  } finally {
    progress.stop();
    sink.close();
    await cache.close();
  }
  if (!failure && !stop) {
    const v = guard.checkAtEnd(sink.intents);
    if (v) stop = endpointBrokenError(v, baseURL, pipeline.file, o.max_invalid_fraction);
  }
  const summary: UsageSummary = meter.summary();
  failure ??= stop;
  if (failure) {
    log.warn('intents.usage', `intents stopped: ${JSON.stringify(summary)}`, { llm: summary });
    // RetryableError keeps its exit code 5: "rerun to resume" is the truth for an endpoint that was down.
    throw failure instanceof UserlmError ? failure : new StageError(`stage intents: ${(failure as Error)?.message ?? String(failure)}`, { cause: failure });
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
