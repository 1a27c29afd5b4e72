import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { END_TOKEN, flipConversation, type ChatMessage } from '../../src/stages/flip/flip-conversation.js';
import { expandSamplesSql } from '../../src/stages/flip/flip-stage.js';
import { tempDir, withDb } from '../helpers.js';
import { writeConversations } from './flip-rows.js';

function conversation(k: number, tag: string): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (let t = 1; t <= k; t++) {
    out.push({ role: 'user', content: `${tag} user ${t}` });
    out.push({ role: 'assistant', content: `${tag} reply ${t}` });
  }
  return out;
}

describe('flipConversation', () => {
  it('gives K+1 samples: initiation, interactions, termination', () => {
    const s = flipConversation('INTENT', conversation(3, 'c'));
    assert.equal(s.length, 4);
    assert.deepEqual(s.map((x) => x.kind), ['initiation', 'interaction', 'interaction', 'termination']);
    assert.deepEqual(s.map((x) => x.target), ['c user 1', 'c user 2', 'c user 3', END_TOKEN]);
    assert.deepEqual(s[0]!.messages, [{ role: 'system', content: 'INTENT' }]);
    // The interaction for user turn 2 sees everything up to the assistant reply before it.
    assert.deepEqual(s[1]!.messages.map((m) => m.content), ['INTENT', 'c user 1', 'c reply 1']);
    assert.equal(s[3]!.messages.length, 1 + 6);
  });

  it('matches the SQL the shards stage expands samples with, for 1 to 12 user turns', async () => {
    const dir = tempDir();
    await withDb(async (db) => {
      const rows = Array.from({ length: 12 }, (_, i) => ({ conversation_id: `c${i + 1}`, intent: `intent ${i + 1}`, messages: conversation(i + 1, `c${i + 1}`) }));
      const file = await writeConversations(db, dir, rows);
      const got = await db.all<{ conversation_id: string; turn_index: number; kind: string; messages: { role: string; content: string }[]; target: string; sample_id: string; num_tokens: number }>(
        expandSamplesSql(file),
        { end_token: END_TOKEN },
      );
      const want = rows.flatMap((r) =>
        flipConversation(r.intent, r.messages).map((s) => ({ conversation_id: r.conversation_id, ...s })),
      );
      assert.equal(got.length, want.length);
      assert.equal(got.length, (12 * 13) / 2 + 12);
      for (const [i, w] of want.entries()) {
        const g = got[i]!;
        assert.equal(g.conversation_id, w.conversation_id);
        assert.equal(g.turn_index, w.turn_index);
        assert.equal(g.kind, w.kind);
        assert.deepEqual(g.messages, w.messages);
        assert.equal(g.target, w.target);
        assert.equal(g.sample_id, `${w.conversation_id}#${String(w.turn_index).padStart(3, '0')}`);
        assert.equal(g.num_tokens, 10 * (w.turn_index - 1), 'the count of its own turn');
      }
    });
  });
});
