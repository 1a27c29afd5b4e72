import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { END_TOKEN, type ChatMessage } from '../../src/stages/flip/flip-conversation.js';
import { buildDataset } from '../../src/stages/recipe.js';
import type { BpeTokenizer } from '../../src/stages/tokenize/bpe-tokenizer.js';
import { CHAT_FORMATS } from '../../src/stages/tokenize/chat-format.js';
import type { BatchCounts, ConversationBatch } from '../../src/stages/tokenize/count-batch.js';
import { countBatches, resolveTokenizeWorkers, type CounterSetup } from '../../src/stages/tokenize/count-batches.js';
import { countConversationSamples } from '../../src/stages/tokenize/count-conversation-samples.js';
import { loadTokenizer } from '../../src/stages/tokenize/load-tokenizer.js';
import { REALDATA, samplePipelineYaml, tempDir, writePipeline } from '../helpers.js';

/** The real WildChat rows as the filter lets them through: user/assistant pairs, ending with a reply. */
function realConversations(): ChatMessage[][] {
  const rows = readFileSync(join(REALDATA, 'wildchat-1m-sample50.jsonl'), 'utf8').trim().split('\n');
  return rows.map((l) => {
    const c = (JSON.parse(l) as { conversation: ChatMessage[] }).conversation.map((m) => ({ role: m.role, content: m.content }));
    return c.slice(0, c.length - (c.length % 2));
  }).filter((c) => c.length > 0);
}

function batchesOf(convs: ChatMessage[][], size: number): ConversationBatch[] {
  const out: ConversationBatch[] = [];
  for (let i = 0; i < convs.length; i += size) {
    const part = convs.slice(i, i + size);
    const offsets = [0];
    for (const c of part) offsets.push(offsets.at(-1)! + c.length);
    out.push({ intents: part.map((_, j) => `intent ${i + j}`), roles: part.flat().map((m) => m.role), contents: part.flat().map((m) => m.content), offsets: Int32Array.from(offsets) });
  }
  return out;
}

async function* stream<T>(items: T[]): AsyncGenerator<T> {
  for (const x of items) {
    // Let the workers run ahead and finish out of order.
    await new Promise((r) => setImmediate(r));
    yield x;
  }
}

const SETUP: CounterSetup = { tokenizerJson: null, endToken: END_TOKEN, format: 'userlm-8b', maxSeqLen: 512, overflow: 'truncate_history' };

describe('tokenizing in worker threads', () => {
  let tok: BpeTokenizer;
  before(async () => {
    tok = (await loadTokenizer({ tokenizerJson: null, endToken: END_TOKEN })).tokenizer;
  });

  it('gives every sample the counts of the one-conversation reference, in batch order, whatever the number of workers', async () => {
    const convs = realConversations();
    // Batches of uneven sizes, so that workers finish out of order.
    const batches = [...batchesOf(convs.slice(0, 3), 3), ...batchesOf(convs.slice(3), 1), ...batchesOf(convs, 7)];
    const o = { maxSeqLen: SETUP.maxSeqLen, overflow: SETUP.overflow, endToken: END_TOKEN, format: CHAT_FORMATS['userlm-8b'] };
    const want = batches.map((b) => {
      const rows: number[][] = [];
      for (let i = 0; i < b.intents.length; i++) {
        const msgs = b.contents.slice(b.offsets[i]!, b.offsets[i + 1]!).map((content, j) => ({ role: b.roles[b.offsets[i]! + j]!, content }));
        for (const s of countConversationSamples(tok, b.intents[i]!, msgs, o).samples) rows.push([i, s.num_tokens, s.num_target_tokens, s.history_messages_dropped, s.too_long ? 1 : 0]);
      }
      return rows;
    });
    assert.ok(want.flat().some((r) => r[3]! > 0), 'the 512-token window truncates some real samples');
    for (const workers of [0, 1, 3]) {
      const got: number[][][] = [];
      await countBatches(stream(batches), SETUP, workers, (c: BatchCounts, b) => {
        const rows: number[][] = [];
        for (let i = 0; i < b.intents.length; i++) {
          for (let at = c.sampleOffsets[i]!; at < c.sampleOffsets[i + 1]!; at++) rows.push([i, c.numTokens[at]!, c.numTargetTokens[at]!, c.historyDropped[at]!, c.tooLong[at]!]);
        }
        got.push(rows);
      });
      assert.deepEqual(got, want, `${workers} workers`);
    }
  });

  it('fails with the worker\'s error instead of hanging or losing a batch', async () => {
    await assert.rejects(
      countBatches(stream(batchesOf(realConversations(), 5)), { ...SETUP, tokenizerJson: join(tempDir(), 'missing.json') }, 2, () => undefined),
      /cannot read the tokenizer/,
    );
  });

  it('uses engine.threads when set, else one per core above a corpus size worth starting workers for', () => {
    assert.equal(resolveTokenizeWorkers(1, 1e6), 0);
    assert.equal(resolveTokenizeWorkers(3, 10), 3);
    assert.equal(resolveTokenizeWorkers(undefined, 10), 0);
    assert.ok(resolveTokenizeWorkers(undefined, 1e6) >= 0);
  });

  it('writes byte-identical shards on the main thread and on three workers', async () => {
    const shards: Map<string, Buffer>[] = [];
    for (const threads of [1, 3]) {
      const dir = tempDir();
      const { pipeline } = writePipeline(dir, samplePipelineYaml(dir, `engine: {threads: ${threads}}\n`));
      const r = await buildDataset(pipeline(), silentLogger);
      const tok = r.markers.find((m) => m.stage === 'tokenize')!;
      assert.equal((tok.notes as { workers: number }).workers, threads === 1 ? 0 : 3);
      const data = join(dir, 'out', 'data');
      shards.push(new Map(readdirSync(data).sort().map((f) => [f, readFileSync(join(data, f))])));
    }
    assert.deepEqual([...shards[0]!.keys()], [...shards[1]!.keys()]);
    assert.ok(shards[0]!.size >= 4);
    for (const [f, bytes] of shards[0]!) assert.ok(bytes.equals(shards[1]!.get(f)!), `${f} differs`);
  });
});
