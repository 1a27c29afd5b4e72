import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChatFormatName } from './chat-format.js';
import { chatFormat } from './chat-format.js';
import { countBatch, type BatchCounts, type ConversationBatch } from './count-batch.js';
import type { OverflowPolicy } from './fit-sample.js';
import { loadTokenizer } from './load-tokenizer.js';

/** What a counter needs to build its tokenizer and count: plain data, so it crosses to a worker. */
export interface CounterSetup {
  tokenizerJson: string | null;
  endToken: string;
  format: ChatFormatName;
  maxSeqLen: number;
  overflow: OverflowPolicy;
}

/** Below this many conversations a worker's start (it loads its own tokenizer) costs more than it saves. */
export const MIN_CONVERSATIONS_FOR_WORKERS = 2000;

/**
 * Worker threads for tokenizing: engine.threads when set (1: the main thread alone), else one
 * per core once the corpus is large enough to pay for starting them.
 */
export function resolveTokenizeWorkers(threads: number | undefined, conversations: number, maxWorkers = Infinity): number {
  const n = Math.min(threads ?? (conversations < MIN_CONVERSATIONS_FOR_WORKERS ? 1 : availableParallelism()), maxWorkers);
  return n > 1 ? n : 0;
}

/**
 * A worker's JavaScript heap is capped inside its share of engine.memory_limit (its typed
 * arrays, the merge table and caches, are outside the heap and counted in the share).
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 224 };

/** Batches queued per worker, so a worker never waits for the main thread to read the next one. */
const QUEUE_PER_WORKER = 2;

/**
 * Count every batch of a stream on `workers` threads (0: this thread), each with its own
 * tokenizer, loaded once. deliver sees the results in the order of the batches, whichever
 * worker finished first, so what the caller writes does not depend on the number of workers.
 * At most QUEUE_PER_WORKER batches per worker are in flight: memory follows the batch size.
 */
export async function countBatches(
  batches: AsyncIterable<ConversationBatch>,
  setup: CounterSetup,
  workers: number,
  deliver: (counts: BatchCounts, batch: ConversationBatch) => void,
): Promise<void> {
  if (workers <= 0) {
    const { tokenizer } = await loadTokenizer({ tokenizerJson: setup.tokenizerJson, endToken: setup.endToken });
    const o = { maxSeqLen: setup.maxSeqLen, overflow: setup.overflow, endToken: setup.endToken, format: chatFormat(setup.format) };
    for await (const b of batches) deliver(countBatch(tokenizer, b, o), b);
    return;
  }
  const pool = Array.from({ length: workers }, () => new Worker(new URL('./tokenize-worker.js', import.meta.url), { workerData: setup, resourceLimits: WORKER_LIMITS }));
  const load = new Array<number>(workers).fill(0);
  const waiting = new Map<number, { resolve: (c: BatchCounts) => void; reject: (e: unknown) => void }>();
  let failure: unknown = null;
  const fail = (e: unknown) => {
    failure ??= e;
    for (const w of waiting.values()) w.reject(failure);
    waiting.clear();
  };
  for (const w of pool) {
    w.on('message', (m: { id: number; counts?: BatchCounts; error?: string }) => {
      const p = waiting.get(m.id);
      if (!p) return;
      waiting.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.counts!);
    });
    w.on('error', fail);
    w.on('exit', (code) => {
      if (code !== 0) fail(new Error(`a tokenize worker exited with code ${code}`));
    });
  }
  // In batch order: the head is delivered first, whatever finishes before it.
  const queue: { batch: ConversationBatch; counts: Promise<BatchCounts> }[] = [];
  const deliverHead = async () => {
    const head = queue.shift()!;
    deliver(await head.counts, head.batch);
  };
  try {
    let id = 0;
    for await (const batch of batches) {
      if (failure) throw failure;
      if (queue.length >= workers * QUEUE_PER_WORKER) await deliverHead();
      let k = 0;
      for (let i = 1; i < workers; i++) if (load[i]! < load[k]!) k = i;
      const myId = id++;
      load[k]!++;
      const counts = new Promise<BatchCounts>((resolve, reject) => {
        waiting.set(myId, { resolve, reject });
        pool[k]!.postMessage({ id: myId, batch });
      });
      // Counted down however it ends; a rejection is seen where the head is awaited.
      counts.then(() => load[k]!--, () => load[k]!--);
      queue.push({ batch, counts });
    }
    while (queue.length) await deliverHead();
    if (failure) throw failure;
  } finally {
    for (const q of queue) q.counts.catch(() => undefined);
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
