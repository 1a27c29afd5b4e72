import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import type { StageContext } from '../../src/core/stage.js';
import { writeLeakTexts } from '../../src/stages/split/split-stage.js';
import { tempDir, withDb } from '../helpers.js';

// writeLeakTexts pairs the intents file's rows with the split's narrow table by position; it
// must stop, naming the conversation, when the two disagree on which conversation a row is or
// on how many samples it has, instead of reading another conversation's turn.

const CONVERSATIONS = [
  { id: 'b', messages: ['b1', 'a', 'b2', 'a'] },
  { id: 'a', messages: ['a1', 'a'] },
  { id: 'c', messages: ['c1', 'a', 'c2', 'a', 'c3', 'a'] },
];

async function check(rows: { ipos: number; id: string; first_turn: number; turn_samples: number }[]) {
  const dir = tempDir();
  const intents = join(dir, 'intents.parquet');
  return withDb(async (db) => {
    const json = JSON.stringify(CONVERSATIONS.map((c) => ({ conversation_id: c.id, messages: c.messages.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })) })));
    await db.run(
      `COPY (SELECT unnest(?::STRUCT(conversation_id VARCHAR, messages STRUCT(role VARCHAR, content VARCHAR)[])[], recursive := true)) TO ${sqlString(intents)} (FORMAT parquet)`,
      [json],
    );
    await db.run('CREATE TABLE conv_split (ipos BIGINT, conversation_id VARCHAR, split VARCHAR, first_turn INTEGER, turn_samples INTEGER)');
    for (const r of rows) await db.run('INSERT INTO conv_split VALUES (?, ?, ?, ?, ?)', [r.ipos, r.id, 'train', r.first_turn, r.turn_samples]);
    // The runner creates a stage's scratch directory before the stage runs.
    mkdirSync(join(dir, 'scratch'));
    const ctx = { db, scratchDir: join(dir, 'scratch') } as unknown as StageContext;
    const out = await writeLeakTexts(ctx, 'conv_split', intents);
    return db.all<{ conversation_id: string; first_user: string }>(`SELECT conversation_id, first_user FROM read_parquet(${sqlString(join(out.dir, '*', '*.parquet'))}) ORDER BY conversation_id`);
  });
}

const ok = [
  { ipos: 0, id: 'b', first_turn: 2, turn_samples: 3 },
  { ipos: 1, id: 'a', first_turn: 1, turn_samples: 2 },
  { ipos: 2, id: 'c', first_turn: 1, turn_samples: 4 },
];

describe('split leak texts: the positional pairing checks itself', () => {
  it('reads each first kept user turn from the row that is its conversation', async () => {
    assert.deepEqual(await check(ok), [
      { conversation_id: 'a', first_user: 'a1' },
      { conversation_id: 'b', first_user: 'b2' },
      { conversation_id: 'c', first_user: 'c1' },
    ]);
  });

  it('stops when a row of the intents file is another conversation', async () => {
    const swapped = [{ ...ok[0]!, id: 'a' }, { ...ok[1]!, id: 'b' }, ok[2]!];
    await assert.rejects(check(swapped), /split: row 0 of the intents file is conversation b, not a/);
  });

  it('stops when the tokenize file counts other samples than the messages give', async () => {
    const wrong = [ok[0]!, ok[1]!, { ...ok[2]!, turn_samples: 3 }];
    await assert.rejects(check(wrong), /split: conversation c has 6 messages in the intents file but 3 samples in the tokenize file \(rerun both stages/);
  });
});
