import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { END_TOKEN, flipConversation, type ChatMessage } from '../../src/stages/flip/flip-conversation.js';
import { expandSamplesSql } from '../../src/stages/flip/flip-stage.js';
import { propertyOptions, tempDir, withDb } from '../helpers.js';
import { writeConversations } from './flip-rows.js';

// Any Unicode text (no lone surrogates: those are dropped at normalize), NUL included.
const text = fc.string({ unit: 'binary', maxLength: 40 });
/** What the filter lets through: user, assistant, user, assistant, ... ending with a reply. */
const alternating = fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 12 }).map((turns) =>
  turns.flatMap(([u, a]): ChatMessage[] => [{ role: 'user', content: u }, { role: 'assistant', content: a }]),
);

describe('flip, property-based', () => {
  it('K user turns give K+1 samples: targets are the user turns in order, then the end token', () => {
    fc.assert(
      fc.property(text, fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system', 'tool'), content: text }), { maxLength: 30 }), (intent, messages) => {
        const users = messages.filter((m) => m.role === 'user').map((m) => m.content);
        // The filter drops conversations without a user turn before flip sees them.
        fc.pre(users.length > 0);
        const s = flipConversation(intent, messages);
        assert.equal(s.length, users.length + 1);
        assert.deepEqual(s.map((x) => x.target), [...users, END_TOKEN]);
        assert.deepEqual(s.map((x) => x.turn_index), s.map((_, i) => i + 1));
        assert.deepEqual(s.map((x) => x.kind), s.map((_, i) => (i === 0 ? 'initiation' : i === users.length ? 'termination' : 'interaction')));
        for (const x of s) {
          assert.deepEqual(x.messages[0], { role: 'system', content: intent });
          // The history a sample shows is a prefix of the conversation that stops before its target.
          const history = x.messages.slice(1);
          assert.deepEqual(history, messages.slice(0, history.length));
          if (x.kind !== 'termination') assert.equal(messages[history.length]!.content, x.target);
        }
        assert.equal(s.at(-1)!.messages.length, messages.length + 1);
      }),
      propertyOptions(300),
    );
  });

  it('the SQL the shards stage expands samples with agrees with the reference on any filtered conversations', async () => {
    const dir = tempDir();
    await withDb(async (db) => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(text, alternating), { minLength: 1, maxLength: 8 }), async (convs) => {
          const rows = convs.map(([intent, messages], i) => ({ conversation_id: `c${i}`, intent, messages }));
          const file = await writeConversations(db, dir, rows);
          const got = await db.all<{ conversation_id: string; turn_index: number; kind: string; messages: ChatMessage[]; target: string; num_user_turns: number }>(expandSamplesSql(file), { end_token: END_TOKEN });
          const want = rows.flatMap((r) => flipConversation(r.intent, r.messages).map((s) => ({ conversation_id: r.conversation_id, num_user_turns: r.messages.length / 2, ...s })));
          assert.deepEqual(
            got.map((g) => ({ conversation_id: g.conversation_id, num_user_turns: g.num_user_turns, turn_index: g.turn_index, kind: g.kind, messages: g.messages, target: g.target })),
            want.map((w) => ({ conversation_id: w.conversation_id, num_user_turns: w.num_user_turns, turn_index: w.turn_index, kind: w.kind, messages: w.messages, target: w.target })),
          );
        }),
        propertyOptions(25),
      );
    });
  });
});
