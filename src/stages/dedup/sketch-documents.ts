import { Worker } from 'node:worker_threads';
import { sketchBatch, type SketchBatch, type SketchOptions } from './document-sketch.js';
import { MinHasher } from './minhash-signature.js';
import { Runs } from './runs.js';

export interface Sketches {
  n: number;
  signatures: Uint32Array;
  words: Uint32Array;
  /** Template n-gram hashes of each document in text order (position k covers words k .. k+n-1). */
  templates: Runs;
  /** With keepWords: the word hashes of each document, in text order (empty runs without). */
  wordSeq: Runs;
  /** bands x n LSH band keys, band-major (empty without bands in the options). */
  bandKeys: Uint32Array;
  /** With userSides in the options: document i's exact key at 2i, 2i+1. */
  exactKeys: Uint32Array;
}

/**
 * Sketch every document of a stream of text batches, on `workers` threads (0: this
 * thread). The result is laid out by document position, so it does not depend on the
 * number of workers or on which finished first.
 */
export interface TextBatch {
  texts: string[];
}

export async function sketchDocuments(
  batches: AsyncIterable<TextBatch>,
  total: number,
  o: SketchOptions,
  workers: number,
  onBatch?: (docs: number) => void,
): Promise<Sketches> {
  const signatures = new Uint32Array((o.keepSignatures ?? true) ? total * o.numPerm : 0);
  const words = new Uint32Array(total);
  const bands = o.bands ?? 0;
  const bandKeys = new Uint32Array(bands * total);
  const exactKeys = new Uint32Array(o.userSides ? 2 * total : 0);
  const parts: { start: number; batch: SketchBatch }[] = [];
  const place = (start: number, b: SketchBatch) => {
    if (start + b.count > total) throw new Error(`more documents than counted (${start + b.count} > ${total})`);
    if (signatures.length) signatures.set(b.signatures, start * o.numPerm);
    words.set(b.words, start);
    if (exactKeys.length) exactKeys.set(b.exactKeys, 2 * start);
    for (let i = 0; i < b.count; i++) for (let k = 0; k < bands; k++) bandKeys[k * total + start + i] = b.bandKeys[i * bands + k]!;
    parts.push({ start, batch: { ...b, signatures: new Uint32Array(0), words: new Uint32Array(0), bandKeys: new Uint32Array(0), exactKeys: new Uint32Array(0) } });
    onBatch?.(b.count);
  };
  const seen = await sketchBatches(batches, o, workers, place);
  if (seen !== total) throw new Error(`document count changed while sketching (${seen} != ${total})`);
  // The batches' arrays stay where they are: the runs point into them (see runs.ts).
  const runsOf = (pick: (b: SketchBatch) => [Uint32Array, Uint32Array] | null): Runs => {
    const seg = new Uint32Array(total);
    const start = new Uint32Array(total);
    const len = new Uint32Array(total);
    const segments: Uint32Array[] = [];
    for (const { start: at, batch } of parts) {
      const got = pick(batch);
      if (!got) continue;
      const [values, offsets] = got;
      const k = segments.length;
      segments.push(values);
      for (let i = 0; i < batch.count; i++) {
        seg[at + i] = k;
        start[at + i] = offsets[i]!;
        len[at + i] = offsets[i + 1]! - offsets[i]!;
      }
    }
    if (segments.length === 0) segments.push(new Uint32Array(0));
    return new Runs(segments, seg, start, len);
  };
  const templates = runsOf((b) => [b.templates, b.templateOffsets]);
  const wordSeq = runsOf((b) => (o.keepWords ? [b.wordSeq, b.wordOffsets] : null));
  return { n: total, signatures, words, templates, wordSeq, bandKeys, exactKeys };
}

/** Batches sketched but not yet handed to visit, at most, besides those queued on workers. */
const MAX_WAITING_PER_WORKER = 4;

/**
 * Sketch a stream of text batches on `workers` threads (0: this thread) and hand each
 * batch's sketch to visit(start, sketch, batch) in stream order (start: the position of
 * its first document), whichever worker finished first. Nothing is kept: a caller that
 * needs only a little of each sketch holds only that. Returns the number of documents.
 */
export async function sketchBatches<B extends TextBatch>(
  batches: AsyncIterable<B>,
  o: SketchOptions,
  workers: number,
  visit: (start: number, sketch: SketchBatch, batch: B) => void,
): Promise<number> {
  let seen = 0;
  if (workers <= 0) {
    const hasher = new MinHasher({ numPerm: o.numPerm, seed: o.seed, method: o.method });
    for await (const batch of batches) {
      visit(seen, sketchBatch(batch.texts, o, hasher), batch);
      seen += batch.texts.length;
    }
    return seen;
  }
  // Two batches queued per worker, so a worker never waits for the main thread to read the
  // next batch from DuckDB; finished batches wait here until those before them are done.
  const pool = Array.from({ length: workers }, () => new Worker(new URL('./sketch-worker.js', import.meta.url)));
  const queued = new Array<number>(workers).fill(0);
  const pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  const sent = new Map<number, { start: number; batch: B }>();
  const done = new Map<number, SketchBatch>();
  let next = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const deliver = () => {
    for (let s = done.get(next); s !== undefined; s = done.get(next)) {
      const { start, batch } = sent.get(next)!;
      done.delete(next);
      sent.delete(next);
      next++;
      visit(start, s, batch);
    }
  };
  for (const w of pool) {
    w.on('message', (m: SketchBatch & { id: number }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      done.set(m.id, m);
      try {
        deliver();
        p.resolve();
      } catch (e) {
        failure ??= e;
        p.reject(e);
      }
    });
    w.on('error', (e) => {
      failure ??= e;
      for (const p of pending.values()) p.reject(e);
      pending.clear();
      wake?.();
    });
  }
  try {
    let id = 0;
    const inflight: Promise<void>[] = [];
    for await (const batch of batches) {
      if (failure) break;
      let k = queued.indexOf(Math.min(...queued));
      while ((queued[k]! >= 2 || done.size >= MAX_WAITING_PER_WORKER * workers) && !failure) {
        await new Promise<void>((r) => (wake = r));
        k = queued.indexOf(Math.min(...queued));
      }
      if (failure) break;
      const myId = id++;
      sent.set(myId, { start: seen, batch });
      seen += batch.texts.length;
      queued[k]!++;
      inflight.push(
        new Promise<void>((resolve, reject) => {
          pending.set(myId, { resolve, reject });
          pool[k]!.postMessage({ id: myId, texts: batch.texts, options: o });
        }).finally(() => {
          queued[k]!--;
          wake?.();
        }),
      );
    }
    await Promise.allSettled(inflight);
    if (failure) throw failure;
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return seen;
}
