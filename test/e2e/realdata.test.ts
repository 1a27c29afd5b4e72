import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { readParquetIndependently, REALDATA, tempDir, writePipeline } from '../helpers.js';

interface RawMessage { role: string; content: string; turn_identifier: number }
interface RawRow { conversation_hash: string; language: string; hashed_ip: string; country: string; conversation: RawMessage[] }

// 50 real WildChat-1M conversations (vendored in test/fixtures/, see its README): the JSONL copy is the ground truth
// the shards are checked against, read without DuckDB on either side.
describe('real WildChat rows', () => {
  it('drops the 19 non-English ones and flips the rest exactly', async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(
      dir,
      `name: real\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: wildchat, type: wildchat, files: [${join(REALDATA, 'wildchat-1m-sample50.parquet')}]}\n`,
    );
    const r = await buildDataset(pipeline(), silentLogger);
    const raw = readFileSync(join(REALDATA, 'wildchat-1m-sample50.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RawRow);
    const byId = new Map(raw.map((x) => [`wildchat:${x.conversation_hash}:${x.conversation[0]!.turn_identifier}`, x]));
    assert.equal(byId.size, 50);

    const filter = r.markers.find((m) => m.stage === 'filter')!;
    assert.equal(filter.drops['language'], 19);
    assert.equal(raw.filter((x) => x.language !== 'English').length, 19);
    // The only other drop is a real conversation whose first user turn is empty.
    assert.deepEqual(Object.keys(filter.drops).sort(), ['empty_user_turn', 'language']);

    const samples: Record<string, unknown>[] = [];
    for (const f of readdirSync(join(dir, 'out', 'data')).sort()) samples.push(...(await readParquetIndependently(join(dir, 'out', 'data', f))));
    const kept = new Set(samples.map((s) => s.conversation_id as string));
    const expected = [...kept].reduce((a, id) => a + byId.get(id)!.conversation.filter((m) => m.role === 'user').length + 1, 0);
    const tokenize = r.markers.find((m) => m.stage === 'tokenize')!;
    const tooLong = tokenize.sample_drops?.['too_long'] ?? 0;
    assert.equal(samples.length + tooLong, expected);
    // Real logs overflow 2048 tokens: the oldest history goes, the sample stays.
    assert.ok(samples.some((s) => (s.history_messages_dropped as number) > 0), 'some sample truncated');
    assert.equal(kept.size, r.markers.at(-1)!.conversations_out);

    const splitOfUser = new Map<string, string>();
    for (const s of samples) {
      const conv = byId.get(s.conversation_id as string);
      assert.ok(conv, `unknown conversation ${String(s.conversation_id)}`);
      assert.equal(conv.language, 'English');
      assert.equal(s.user_key, `${conv.hashed_ip}|${conv.country}`);
      const prev = splitOfUser.get(s.user_key as string);
      assert.ok(prev === undefined || prev === s.split, `user ${String(s.user_key)} in ${prev} and ${String(s.split)}`);
      splitOfUser.set(s.user_key as string, s.split as string);

      const users = conv.conversation.filter((m) => m.role === 'user');
      const k = s.turn_index as number;
      const msgs = s.messages as { role: string; content: string }[];
      assert.equal(msgs[0]!.role, 'system');
      assert.equal(msgs[0]!.content, s.intent);
      const cut = s.history_messages_dropped as number;
      assert.equal(cut % 2, 0, 'whole exchanges are dropped');
      assert.deepEqual(msgs.slice(1), conv.conversation.slice(cut, 2 * (k - 1)).map((m) => ({ role: m.role, content: m.content })));
      assert.ok((s.num_tokens as number) <= 2048);
      if (k <= users.length) {
        assert.equal(s.target, users[k - 1]!.content);
        assert.equal(s.kind, k === 1 ? 'initiation' : 'interaction');
      } else {
        assert.equal(k, users.length + 1);
        assert.equal(s.target, '<|endconversation|>');
        assert.equal(s.kind, 'termination');
      }
      assert.match(s.intent as string, /^You are a user chatting with an assistant language model to /);
    }
  });
});
