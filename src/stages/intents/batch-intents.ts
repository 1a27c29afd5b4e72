import { join } from 'node:path';
import { sqlString, toNumber } from '../../core/db.js';
import { StageError } from '../../core/errors.js';
import { startProgress } from '../../core/progress.js';
import type { StageContext } from '../../core/stage.js';
import { BatchInputWriter } from '../../llm/batch-input-writer.js';
import { BatchJobStore } from '../../llm/batch-job-store.js';
import { BatchRunner } from '../../llm/batch-runner.js';
import { InvalidAnswerGuard } from '../../llm/invalid-answer-guard.js';
import { createOpenAIClient } from '../../llm/openai-client.js';
import { endpointBrokenError } from './endpoint-broken-error.js';
import type { ChatTurn } from '../../llm/render-conversation.js';
import { IntentSink } from './intent-sink.js';
import { backendLabel, intentCachePath, openIntentLlm, type IntentLlm } from './intent-llm-setup.js';
import { usageLine } from './online-intents.js';
import { resolveIntent, type IntentResolution } from './resolve-intent.js';

/**
 * Feeds one sweep's view of a conversation to the guard: settled ones, and those whose
 * latest answer (from this process) was invalid and wait for another attempt.
 */
function judge(guard: InvalidAnswerGuard, llm: IntentLlm, rendered: string, r: IntentResolution): void {
  const lastText = (attempt: number) => {
    const c = llm.cache.get(llm.builder.key(rendered, attempt));
    return c === undefined ? null : c.kind === 'answer' ? c.text : `HTTP error: ${c.message}`;
  };
  if (r.status === 'intent') guard.record(true);
  else if (r.status === 'drop') guard.record(false, lastText(r.cacheHits - 1));
  else if (r.invalid > 0) guard.record(false, lastText(r.attempt - 1));
}

export function batchDir(runDir: string): string {
  return join(intentCachePath(runDir), '..', 'batches');
}

/** One sweep over the conversations with what the cache knows; collect first, query after. */
async function sweep(ctx: StageContext, llm: IntentLlm, visit: (id: string, rendered: string, r: IntentResolution) => void): Promise<void> {
  const result = await ctx.db.conn.stream(`SELECT conversation_id, messages FROM read_parquet(${sqlString(ctx.input!)})`);
  for await (const rows of result.yieldRowObjectJs()) {
    for (const row of rows) {
      const rendered = llm.builder.render((row['messages'] ?? []) as unknown as ChatTurn[]);
      visit(String(row['conversation_id']), rendered, resolveIntent(llm.cache, llm.builder, rendered, llm.bounds, llm.o.max_invalid_retries));
    }
  }
}

/**
 * The openai-batch backend, in rounds: finish the batches already running (a previous
 * process's included), then sweep the conversations and write every request the cache still
 * lacks (first asks, asks after an invalid answer, expired requests) into new files, submit
 * them, and repeat until a sweep finds nothing missing.
 */
export async function generateBatchIntents(ctx: StageContext): Promise<{ notes: Record<string, unknown> }> {
  const { db, pipeline, dir, input, log } = ctx;
  const llm = await openIntentLlm(pipeline, log, pipeline.config.stages.intents.batch.price_factor);
  const { o, builder, cache, meter } = llm;
  const b = o.batch;
  const { client, baseURL } = createOpenAIClient(o, pipeline.file);
  const store = await BatchJobStore.open(batchDir(pipeline.config.run_dir));
  const runner = new BatchRunner({
    client,
    store,
    cache,
    meter,
    log,
    pollInitialMs: b.poll_initial_s * 1000,
    pollMaxMs: b.poll_max_s * 1000,
    maxRetries: o.max_retries,
    backoffInitialMs: o.backoff_initial_ms,
    backoffMaxMs: o.backoff_max_ms,
    completionWindow: b.completion_window,
  });
  const total = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(input!)})`)).n);
  log.info('intents.llm', `intents from ${o.model} through the Batch API at ${baseURL}; ${cache.size} cached answer(s), ${store.active().length} batch(es) to resume`, {
    model: o.model,
    base_url: baseURL,
    cached: cache.size,
    resume: store.active().length,
  });
  // Every round either settles conversations or counts toward a resubmit or invalid retry.
  const maxRounds = (o.max_invalid_retries + 1) * (b.max_resubmits + 1) + 1;
  let files = 0;
  let resubmittedRequests = 0;
  try {
    for (let round = 0; ; round++) {
      for (const job of store.active()) await runner.submit(job);
      const before = runner.retryLater;
      await runner.waitAll();
      resubmittedRequests += runner.retryLater - before;
      let missing = 0;
      let settled = 0;
      const writer = new BatchInputWriter({
        dir: store.dir,
        prefix: `input-${Date.now().toString(36)}-r${round}`,
        maxRequests: b.max_requests_per_file,
        maxBytes: b.max_bytes_per_file,
      });
      // Judged per round: a batch of nonsense stops the stage before the next round pays for more.
      const guard = new InvalidAnswerGuard({ maxFraction: o.max_invalid_fraction, window: o.invalid_guard_window });
      await sweep(ctx, llm, (_id, rendered, r) => {
        judge(guard, llm, rendered, r);
        if (r.status !== 'need') settled++;
        else {
          missing++;
          writer.add(r.key, builder.body(rendered, r.attempt));
        }
      });
      const written = writer.finish();
      const verdict = guard.checkAll();
      if (verdict) throw endpointBrokenError(verdict, baseURL, pipeline.file, o.max_invalid_fraction);
      log.info('intents.batch.sweep', `round ${round + 1}: ${settled}/${total} conversations settled, ${missing} request(s) to send in ${written.length} file(s)`, { round, settled, missing, files: written.length });
      if (missing === 0) break;
      if (round >= maxRounds) {
        throw new StageError(
          `${missing} intent request(s) still unanswered after ${round + 1} rounds of batches (expired, failed or invalid each time); ` +
            `see the batch errors above, raise stages.intents.batch.max_resubmits in ${pipeline.file}, or rerun later`,
        );
      }
      for (const f of written) {
        files++;
        await store.add({ input: f.name, model: f.model, requests: f.requests, bytes: f.bytes, round, status: 'written', file_id: null, batch_id: null, uploaded_at: null, batch_status: null, errors: [] });
      }
    }
  } finally {
    await cache.close();
  }
  meter.batches = { files, submitted: runner.submitted, resumed: runner.resumed, resubmitted_requests: resubmittedRequests };

  const sink = await IntentSink.open(db);
  const progress = startProgress(log, 'intents', total, 'conversations');
  const guard = new InvalidAnswerGuard({ maxFraction: o.max_invalid_fraction, window: o.invalid_guard_window });
  try {
    await sweep(ctx, llm, (id, rendered, r) => {
      judge(guard, llm, rendered, r);
      // Answers this process fetched are not hits; those found on disk are.
      const consulted = r.status === 'drop' && r.reason === 'intent_invalid' ? o.max_invalid_retries + 1 : r.cacheHits;
      for (let a = 0; a < consulted; a++) {
        if (!cache.isFresh(builder.key(rendered, a))) meter.cacheHits++;
        else if (a < r.invalid) meter.invalidAnswers++;
      }
      if (r.status === 'intent') sink.intent(id, r.intent);
      else if (r.status === 'drop') sink.drop(id, r.reason);
      else throw new StageError(`conversation ${id} has no answer after the last batch round; this is a bug in userlm-data`);
      progress.tick(1);
    });
  } finally {
    progress.stop();
    sink.close();
  }
  const verdict = guard.checkAtEnd(sink.intents);
  if (verdict) throw endpointBrokenError(verdict, baseURL, pipeline.file, o.max_invalid_fraction);
  await sink.write(input!, dir, backendLabel(o));
  const summary = meter.summary();
  log.info('intents.usage', usageLine(summary), { llm: summary });
  return { notes: { llm: summary, prompt: { file: builder.prompt.file, id: builder.prompt.id, version: builder.prompt.version, sha256: builder.prompt.sha256 } } };
}
