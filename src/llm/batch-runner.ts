import type OpenAI from 'openai';
import { createReadStream } from 'node:fs';
import { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { StageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BatchJob, BatchJobStore } from './batch-job-store.js';
import type { ResponseCache } from './response-cache.js';
import type { UsageMeter } from './usage-meter.js';
import { withRetries } from './with-retries.js';

export interface BatchRunnerOptions {
  client: OpenAI;
  store: BatchJobStore;
  cache: ResponseCache;
  meter: UsageMeter;
  log: Logger;
  pollInitialMs: number;
  pollMaxMs: number;
  /** For each API call (upload, create, poll, download). */
  maxRetries: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  completionWindow: '24h';
  sleep?: (ms: number) => Promise<void>;
}

const TERMINAL = new Set(['completed', 'expired', 'cancelled', 'failed']);

interface ResultLine {
  custom_id?: string;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string; message?: string } | null;
}

/**
 * Drives batch jobs through upload -> create -> poll -> download, saving each step in the
 * job store first, so a restarted process picks up exactly where the last one stopped.
 * Results go into the response cache keyed by custom_id; requests that expired or failed
 * for transient reasons are left out of the cache, so the next pass over the conversations
 * writes them into a new file.
 */
export class BatchRunner {
  private readonly sleep: (ms: number) => Promise<void>;
  /** Requests that came back expired or with a transient error (resubmitted by the next pass). */
  retryLater = 0;
  submitted = 0;
  resumed = 0;

  constructor(private readonly o: BatchRunnerOptions) {
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetries(fn, {
      what,
      maxRetries: this.o.maxRetries,
      initialMs: this.o.backoffInitialMs,
      maxMs: this.o.backoffMaxMs,
      sleep: this.sleep,
      onRetry: () => this.o.meter.retries++,
    });
  }

  /** Upload and create whatever is not yet sent; jobs already submitted are only resumed. */
  async submit(job: BatchJob): Promise<void> {
    const { client, store, log } = this.o;
    if (job.status === 'submitted') {
      this.resumed++;
      log.info('intents.batch.resume', `resuming batch ${job.batch_id} (${job.input}, ${job.requests} requests)`, { batch_id: job.batch_id, input: job.input });
      return;
    }
    if (job.status === 'written') {
      const uploadedAt = Math.floor(Date.now() / 1000) - 1;
      const file = await this.call(`upload of batch file ${job.input}`, async () =>
        client.files.create({ file: await toFile(createReadStream(store.path(job)), job.input), purpose: 'batch' }),
      );
      await store.update(job, { status: 'uploaded', file_id: file.id, uploaded_at: uploadedAt });
    }
    if (job.status === 'uploaded') {
      // A process killed between creating the batch and saving its id left a batch running
      // for this file: adopt it instead of paying twice.
      const existing = job.batch_status === 'creating' ? await this.findBatchFor(job) : null;
      let batch = existing;
      if (!batch) {
        await store.update(job, { batch_status: 'creating' });
        batch = await this.call(`creating the batch for ${job.input}`, () =>
          client.batches.create({ input_file_id: job.file_id!, endpoint: '/v1/chat/completions', completion_window: this.o.completionWindow }),
        );
        this.submitted++;
      } else this.resumed++;
      await store.update(job, { status: 'submitted', batch_id: batch.id, batch_status: batch.status });
      log.info('intents.batch.submit', `${existing ? 'adopted' : 'submitted'} batch ${batch.id}: ${job.requests} requests from ${job.input}`, { batch_id: batch.id, input: job.input, requests: job.requests });
    }
  }

  private async findBatchFor(job: BatchJob): Promise<Batch | null> {
    let seen = 0;
    for await (const b of this.o.client.batches.list({ limit: 100 })) {
      if (b.input_file_id === job.file_id) return b;
      if (++seen >= 10_000 || (job.uploaded_at !== null && b.created_at < job.uploaded_at)) break;
    }
    return null;
  }

  /** Poll every submitted job until each has ended, reading results as they arrive. */
  async waitAll(onProgress?: () => void): Promise<void> {
    let delay = this.o.pollInitialMs;
    for (;;) {
      const waiting = this.o.store.jobs.filter((j) => j.status === 'submitted');
      if (waiting.length === 0) return;
      let changed = false;
      for (const job of waiting) {
        const b = await this.call(`polling batch ${job.batch_id}`, () => this.o.client.batches.retrieve(job.batch_id!));
        if (b.status !== job.batch_status) {
          changed = true;
          this.o.log.info('intents.batch.status', `batch ${b.id} (${job.input}): ${b.status}`, { batch_id: b.id, status: b.status, request_counts: b.request_counts });
          if (!TERMINAL.has(b.status)) await this.o.store.update(job, { batch_status: b.status });
        }
        if (TERMINAL.has(b.status)) {
          await this.finish(job, b);
          onProgress?.();
        }
      }
      if (changed) delay = this.o.pollInitialMs;
      await this.sleep(delay);
      delay = Math.min(this.o.pollMaxMs, delay * 2);
    }
  }

  private async finish(job: BatchJob, b: Batch): Promise<void> {
    const { store, meter } = this.o;
    if (b.status === 'failed') {
      const errors = (b.errors?.data ?? []).map((e) => `${e.code ?? 'error'}: ${e.message ?? ''}`);
      this.o.log.warn('intents.batch.failed', `batch ${b.id} (${job.input}) failed: ${errors.join('; ') || 'no reason given'}; its requests go into a new file`, { batch_id: b.id, errors });
      await store.update(job, { status: 'failed', batch_status: b.status, errors });
      return;
    }
    meter.requests += job.requests;
    let answered = 0;
    for (const fileId of [b.output_file_id, b.error_file_id]) {
      if (!fileId) continue;
      const text = await this.call(`downloading ${fileId} of batch ${b.id}`, async () => (await this.o.client.files.content(fileId)).text());
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        if (this.ingest(JSON.parse(line) as ResultLine)) answered++;
      }
    }
    this.retryLater += job.requests - answered;
    await store.update(job, { status: 'done', batch_status: b.status });
  }

  /** Cache one result line; false when the request must be sent again. */
  private ingest(r: ResultLine): boolean {
    const { cache, meter } = this.o;
    const id = r.custom_id;
    if (typeof id !== 'string') throw new StageError('a batch result line has no custom_id; the endpoint does not follow the Batch API');
    const status = r.response?.status_code;
    if (status === 200) {
      const body = r.response!.body as { choices?: { message?: { content?: unknown } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
      if (!Array.isArray(body?.choices)) {
        meter.malformed++;
        return false;
      }
      const content = body.choices[0]?.message?.content;
      const p = body.usage?.prompt_tokens ?? 0;
      const c = body.usage?.completion_tokens ?? 0;
      meter.answers++;
      meter.addUsage(p, c);
      cache.put(id, { kind: 'answer', text: typeof content === 'string' ? content : null, promptTokens: p, completionTokens: c });
      return true;
    }
    if (status === 400 || status === 413 || status === 422) {
      meter.rejected++;
      const msg = JSON.stringify(r.response?.body ?? r.error ?? {}).slice(0, 500);
      cache.put(id, { kind: 'rejected', message: `HTTP ${status}: ${msg}` });
      return true;
    }
    // Expired, 429, 5xx, or anything unknown: worth sending again in the next file.
    if (r.error?.code === 'batch_expired') meter.expired++;
    else if (status === 429) meter.rateLimited++;
    else meter.serverErrors++;
    return false;
  }
}
