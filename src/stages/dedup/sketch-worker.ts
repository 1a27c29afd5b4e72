// Worker thread entry: sketches batches of texts sent by sketchDocuments.
import { parentPort } from 'node:worker_threads';
import { sketchBatch, type SketchOptions } from './document-sketch.js';
import { MinHasher } from './minhash-signature.js';

let hasher: MinHasher | undefined;
let hasherKey = '';

parentPort?.on('message', (msg: { id: number; texts: string[]; options: SketchOptions }) => {
  const key = JSON.stringify(msg.options);
  if (!hasher || key !== hasherKey) {
    hasher = new MinHasher({ numPerm: msg.options.numPerm, seed: msg.options.seed, method: msg.options.method });
    hasherKey = key;
  }
  const r = sketchBatch(msg.texts, msg.options, hasher);
  parentPort!.postMessage({ id: msg.id, ...r }, [r.signatures.buffer, r.words.buffer, r.templates.buffer, r.templateOffsets.buffer, r.wordSeq.buffer, r.wordOffsets.buffer, r.exactKeys.buffer, r.bandKeys.buffer] as ArrayBuffer[]);
});
