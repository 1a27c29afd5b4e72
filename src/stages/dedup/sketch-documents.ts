import { Worker } from 'node:worker_threads';
import { sketchBatch, type SketchBatch, type SketchOptions } from './document-sketch.js';
import { MinHasher } from './minhash-signature.js';

export interface Sketches {
  n: number;
  signatures: Uint32Array;
  words: Uint32Array;
  templates: Uint32Array;
  templateOffsets: Uint32Array;
}

/**
 * Sketch every document of a stream of text batches, on `workers` threads (0: this
 * thread). The result is laid out by document position, so it does not depend on the
 * number of workers or on which finished first.
 */
export interface TextBatch {
  texts: string[];
  templateTexts?: string[];
}

export async function sketchDocuments(
  batches: AsyncIterable<TextBatch>,
  total: number,
  o: SketchOptions,
  workers: number,
  onBatch?: (docs: number) => void,
): Promise<Sketches> {
  const signatures = new Uint32Array(total * o.numPerm);
  const words = new Uint32Array(total);
  const parts: { start: number; batch: SketchBatch }[] = [];
  const place = (start: number, b: SketchBatch) => {
    if (start + b.count > total) throw new Error(`more documents than counted (${start + b.count} > ${total})`);
    signatures.set(b.signatures, start * o.numPerm);
    words.set(b.words, start);
    parts.push({ start, batch: { ...b, signatures: new Uint32Array(0), words: new Uint32Array(0) } });
    onBatch?.(b.count);
  };
  let seen = 0;
  if (workers <= 0) {
    const hasher = new MinHasher({ numPerm: o.numPerm, seed: o.seed, method: o.method });
    for await (const { texts, templateTexts } of batches) {
      place(seen, sketchBatch(texts, o, hasher, templateTexts));
      seen += texts.length;
    }
  } else {
    const pool = Array.from({ length: workers }, () => new Worker(new URL('./sketch-worker.js', import.meta.url)));
    const idle = [...pool];
    const waiting: ((w: Worker) => void)[] = [];
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    const take = () => (idle.length ? Promise.resolve(idle.pop()!) : new Promise<Worker>((r) => waiting.push(r)));
    const give = (w: Worker) => {
      const next = waiting.shift();
      if (next) next(w);
      else idle.push(w);
    };
    try {
      let id = 0;
      for await (const { texts, templateTexts } of batches) {
        if (failure) break;
        const start = seen;
        seen += texts.length;
        const w = await take();
        const myId = id++;
        const p = new Promise<void>((resolve, reject) => {
          const onMessage = (m: SketchBatch & { id: number }) => {
            if (m.id !== myId) return;
            w.off('message', onMessage);
            w.off('error', onError);
            place(start, m);
            give(w);
            resolve();
          };
          const onError = (e: unknown) => {
            w.off('message', onMessage);
            reject(e);
          };
          w.on('message', onMessage);
          w.once('error', onError);
          w.postMessage({ id: myId, texts, templateTexts, options: o });
        }).catch((e) => {
          failure = e;
        });
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await Promise.all(inflight);
      if (failure) throw failure;
    } finally {
      await Promise.all(pool.map((w) => w.terminate()));
    }
  }
  if (seen !== total) throw new Error(`document count changed while sketching (${seen} != ${total})`);
  parts.sort((a, b) => a.start - b.start);
  const templateOffsets = new Uint32Array(total + 1);
  let t = 0;
  for (const { batch } of parts) t += batch.templates.length;
  const templates = new Uint32Array(t);
  t = 0;
  for (const { start, batch } of parts) {
    templates.set(batch.templates, t);
    for (let i = 0; i < batch.count; i++) templateOffsets[start + i + 1] = t + batch.templateOffsets[i + 1]!;
    t += batch.templates.length;
  }
  return { n: total, signatures, words, templates, templateOffsets };
}
