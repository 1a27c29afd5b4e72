import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toFile } from 'openai';
import { silentLogger } from '../../src/core/logger.js';
import { BatchJobStore } from '../../src/llm/batch-job-store.js';
import { BatchRunner } from '../../src/llm/batch-runner.js';
import { createOpenAIClient } from '../../src/llm/openai-client.js';
import { ResponseCache } from '../../src/llm/response-cache.js';
import { UsageMeter } from '../../src/llm/usage-meter.js';
import { tempDir } from '../helpers.js';
import { startOpenAICompatibleServer } from '../servers/openai-compatible-server.js';

describe('batch jobs', () => {
  it('adopts the batch a killed process created but never saved, instead of creating another', async () => {
    const server = await startOpenAICompatibleServer({ faults: { batchDelayMs: 20 }, lifetimeMs: 60_000 });
    try {
      const dir = tempDir();
      const lines = ['a', 'b', 'c'].map((id) => JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: `q ${id}` }] } }));
      writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
      const { client } = createOpenAIClient({ base_url: server.url, api_key_env: 'K' }, 'p.yaml', {});
      // What the killed process did: upload, mark "creating", create; then it died.
      const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'in.jsonl'), purpose: 'batch' });
      const store = await BatchJobStore.open(dir);
      await store.add({ input: 'in.jsonl', model: 'm', requests: 3, bytes: 0, round: 0, status: 'uploaded', file_id: file.id, batch_id: null, uploaded_at: 0, batch_status: 'creating', errors: [] });
      const orphan = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      // Another batch for another file, created later, must not be mistaken for it.
      const other = await client.files.create({ file: await toFile(Buffer.from(lines[0]! + '\n'), 'other.jsonl'), purpose: 'batch' });
      await client.batches.create({ input_file_id: other.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

      const cache = await ResponseCache.open(join(dir, 'cache.jsonl'));
      const meter = new UsageMeter('m', 'openai-batch', { input: 2.5, output: 10 }, 0.5);
      const restarted = await BatchJobStore.open(dir);
      const runner = new BatchRunner({ client, store: restarted, cache, meter, log: silentLogger, pollInitialMs: 5, pollMaxMs: 20, maxRetries: 2, backoffInitialMs: 1, backoffMaxMs: 5, completionWindow: '24h' });
      await runner.submit(restarted.jobs[0]!);
      assert.equal(restarted.jobs[0]!.batch_id, orphan.id);
      assert.equal(server.stats.batchesCreated, 2, 'no new batch');
      await runner.waitAll();
      assert.equal(restarted.jobs[0]!.status, 'done');
      assert.deepEqual(['a', 'b', 'c'].map((k) => cache.get(k)?.kind), ['answer', 'answer', 'answer']);
      assert.equal(meter.answers, 3);
      assert.ok(meter.costUsd()! > 0);
      await cache.close();
    } finally {
      await server.close();
    }
  });
});
