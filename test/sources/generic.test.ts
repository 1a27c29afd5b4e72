import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { SourceError } from '../../src/core/errors.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('generic sources', () => {
  it('reads ShareGPT and OpenAI JSONL and a mapped Parquet file with YAML only', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'sharegpt.jsonl'),
      jsonl([
        { id: 'a', conversations: [{ from: 'system', value: 'be nice' }, { from: 'human', value: 'hello there' }, { from: 'gpt', value: 'hi' }] },
        { id: 'b', conversations: [{ from: 'human', value: 'q1' }, { from: 'gpt', value: 'a1' }, { from: 'human', value: 'q2' }, { from: 'gpt', value: 'a2' }] },
        { id: 'c', conversations: [{ from: 'human', value: 'q' }, { from: 'tool', value: 'x' }] },
      ]),
    );
    writeFileSync(
      join(dir, 'openai.jsonl'),
      jsonl([
        { messages: [{ role: 'user', content: 'open q' }, { role: 'assistant', content: 'open a' }] },
        { messages: [{ role: 'developer', content: 'sys' }, { role: 'user', content: 'second' }, { role: 'assistant', content: 'ans' }] },
      ]),
    );
    await withDb((db) =>
      db.run(
        `COPY (SELECT * FROM (VALUES
           ('x1', {'who': 'alice', 'cc': 'FR'}, 'English', [{'speaker': 'me', 'text': 'bonjour?'}, {'speaker': 'bot', 'text': 'salut'}]),
           ('x2', {'who': 'bob', 'cc': 'DE'}, 'German', [{'speaker': 'me', 'text': 'hallo'}, {'speaker': 'bot', 'text': 'hi'}])
         ) t(cid, meta, lang, turns)) TO ${sqlString(join(dir, 'custom.parquet'))} (FORMAT parquet)`,
      ),
    );
    const { pipeline } = writePipeline(
      dir,
      `name: generic
run_dir: ${join(dir, 'runs')}
out_dir: ${join(dir, 'out')}
sources:
  - {name: sg, type: generic, preset: sharegpt, files: [${join(dir, 'sharegpt.jsonl')}], language: English}
  - {name: oa, type: generic, preset: openai, files: [${join(dir, 'openai.jsonl')}], language: English}
  - name: custom
    type: generic
    files: [${join(dir, 'custom.parquet')}]
    fields: {id: cid, messages: turns, role: speaker, content: text, user: meta.who, country: meta.cc, language: lang}
    roles: {me: user, bot: assistant}
`,
    );
    const r = await buildDataset(pipeline(), silentLogger);
    const [normalize, filter] = r.markers;
    assert.equal(normalize!.conversations_in, 7);
    assert.deepEqual(filter!.drops, { language: 1, unknown_role: 1 });
    await withDb(async (db) => {
      const rows = await db.all<{ conversation_id: string; user_key: string | null; country: string | null; msgs: string; meta: string }>(
        `SELECT conversation_id, user_key, country, array_to_string(list_transform(messages, m -> m.role || ':' || m.content), ' | ') AS msgs, source_meta AS meta
         FROM read_parquet(${sqlString(join(dir, 'runs', 'filter', 'data.parquet'))}) ORDER BY conversation_id`,
      );
      assert.deepEqual(
        rows.map((x) => [x.conversation_id, x.user_key, x.country, x.msgs]),
        [
          ['custom:x1', 'custom|alice', 'FR', 'user:bonjour? | assistant:salut'],
          ['oa:openai.jsonl#0', null, null, 'user:open q | assistant:open a'],
          ['oa:openai.jsonl#1', null, null, 'user:second | assistant:ans'],
          ['sg:a', 'sg|a', null, 'user:hello there | assistant:hi'],
          ['sg:b', 'sg|b', null, 'user:q1 | assistant:a1 | user:q2 | assistant:a2'],
        ],
      );
      assert.equal(JSON.parse(rows.find((x) => x.conversation_id === 'sg:a')!.meta).system_prompt, 'be nice');
    });
  });

  it('says which field is missing and what the file has instead', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.jsonl'), jsonl([{ dialog: [{ role: 'user', content: 'q' }] }]));
    const { pipeline } = writePipeline(
      dir,
      `name: g\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: g, type: generic, preset: openai, files: [${join(dir, 'x.jsonl')}]}\n`,
    );
    await assert.rejects(buildDataset(pipeline(), silentLogger), (e: Error) => {
      assert.ok(e instanceof SourceError);
      assert.match(e.message, /sources\[0\] \(g\): the field mapping \(.*messages: messages.*\) does not fit .*x\.jsonl/);
      assert.match(e.message, /Top-level fields there: dialog\. Fix sources\[0\]\.fields or choose another preset/);
      return true;
    });
  });
});
