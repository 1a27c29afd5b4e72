// Worker thread entry: counts the batches countBatches sends, with a tokenizer loaded once per worker.
import { parentPort, workerData } from 'node:worker_threads';
import { chatFormat } from './chat-format.js';
import { countBatch, countBuffers, type ConversationBatch } from './count-batch.js';
import { loadTokenizer } from './load-tokenizer.js';
import type { CounterSetup } from './count-batches.js';

const setup = workerData as CounterSetup;
const ready = loadTokenizer({ tokenizerJson: setup.tokenizerJson, endToken: setup.endToken });
const options = { maxSeqLen: setup.maxSeqLen, overflow: setup.overflow, endToken: setup.endToken, format: chatFormat(setup.format) };

parentPort!.on('message', (msg: { id: number; batch: ConversationBatch }) => {
  ready.then(
    ({ tokenizer }) => {
      const counts = countBatch(tokenizer, msg.batch, options);
      parentPort!.postMessage({ id: msg.id, counts }, countBuffers(counts));
    },
    (e: unknown) => parentPort!.postMessage({ id: msg.id, error: (e as Error).message }),
  );
});
