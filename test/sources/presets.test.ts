import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { SourceError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/core/runner.js';
import { filterStage } from '../../src/stages/filter/filter-stage.js';
import { normalizeStage } from '../../src/stages/normalize/normalize-stage.js';
import { ROOT, tempDir, withDb, writePipeline } from '../helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'corpora');

/** normalize + filter on the given sources; the guards are opened wide: these tests count drops. */
async function normalizeAndFilter(dir: string, sources: string, stages = '') {
  const { pipeline } = writePipeline(
    dir,
    `name: t\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nmax_drop_fraction: 1\nsources:\n${sources}\n${stages}`,
  );
  const r = await runPipeline(pipeline(), [normalizeStage, filterStage], { log: silentLogger });
  const [normalize, filter] = r.markers;
  const kept = await withDb((db) =>
    db.all<{ conversation_id: string; user_key: string | null; language: string | null; msgs: string }>(
      `SELECT conversation_id, user_key, language, array_to_string(list_transform(messages, m -> m.role || ':' || m.content), ' | ') AS msgs
       FROM read_parquet(${sqlString(join(dir, 'runs', 'filter', 'data.parquet'))}) ORDER BY conversation_id`,
    ),
  );
  return { normalize: normalize!, filter: filter!, kept };
}

describe('presets on fixtures in each corpus\'s real schema', () => {
  it('ShareGPT: one JSON array, chunked ids grouped by their base id, leading assistant and trailing user turns trimmed and counted', async () => {
    const dir = tempDir();
    const f = join(FIX, 'sharegpt-chunks.json');
    const r = await normalizeAndFilter(
      dir,
      `  - {name: sg, type: generic, preset: sharegpt, files: [${f}], language: English}\n  - {name: sm, type: generic, preset: sharegpt, files: [${f}], language: English, consecutive_roles: merge}`,
    );
    assert.equal(r.normalize.conversations_in, 14);
    assert.deepEqual(r.filter.drops, { consecutive_roles: 1, empty_conversation: 2, unknown_role: 2 });
    const notes = r.normalize.notes as { repairs: Record<string, Record<string, number>> };
    assert.deepEqual(notes.repairs['sg'], { trimmed_leading_assistant: 2, trimmed_trailing_user: 1 });
    assert.deepEqual(notes.repairs['sm'], { merged_consecutive: 1, trimmed_leading_assistant: 2, trimmed_trailing_user: 1 });
    const sg = r.kept.filter((k) => k.conversation_id.startsWith('sg:'));
    assert.deepEqual(
      sg.map((k) => [k.conversation_id, k.user_key, k.msgs]),
      [
        ['sg:QWJ1ZG9_0', 'sg|QWJ1ZG9', 'user:How do I boil an egg? | assistant:<p>Put it in boiling water for 9 minutes.</p> | user:And a soft one? | assistant:About 6 minutes.'],
        ['sg:QWJ1ZG9_1', 'sg|QWJ1ZG9', 'user:Why cold water? | assistant:It stops the cooking and eases peeling.'],
        ['sg:YmluZ2Nv_0', 'sg|YmluZ2Nv', 'user:Weather in Paris? | assistant:Mild and cloudy.'],
        ['sg:ZmFyYXdheQ', 'sg|ZmFyYXdheQ', 'user:Name a prime above 10. | assistant:11.'],
      ],
    );
    assert.equal(r.kept.find((k) => k.conversation_id === 'sm:ZG91Ymxl')?.msgs, 'user:first part\n\nsecond part | assistant:Both read.');
  });

  it('OpenAssistant trees (gzip): best path by rank without deleted or rejected replies; all paths grouped by tree', async () => {
    const dir = tempDir();
    const f = join(FIX, 'oasst-trees.jsonl.gz');
    const r = await normalizeAndFilter(dir, `  - {name: ob, type: oasst, files: [${f}]}\n  - {name: oa, type: oasst, path: all, files: [${f}]}`);
    assert.deepEqual(r.normalize.drops, { oasst_prompt_removed: 2 });
    assert.deepEqual(r.filter.drops, { language: 2 });
    assert.deepEqual(
      r.kept.map((k) => [k.conversation_id, k.user_key, k.language, k.msgs]),
      [
        ['oa:tree-1:a3', 'oa|tree|tree-1', 'en', 'user:What is a haiku? | assistant:A short Japanese poem of 5-7-5 syllables. | user:Write one about rain. | assistant:Soft rain on the roof'],
        ['oa:tree-1:a4', 'oa|tree|tree-1', 'en', 'user:What is a haiku? | assistant:A short Japanese poem of 5-7-5 syllables. | user:Write one about rain. | assistant:Rain taps the window / ...'],
        ['oa:tree-1:p3', 'oa|tree|tree-1', 'en', 'user:What is a haiku? | assistant:A short Japanese poem of 5-7-5 syllables.'],
        ['ob:tree-1', 'ob|tree|tree-1', 'en', 'user:What is a haiku? | assistant:A short Japanese poem of 5-7-5 syllables. | user:Write one about rain. | assistant:Rain taps the window / ...'],
      ],
    );
    assert.deepEqual((r.normalize.notes as { repairs: Record<string, unknown> }).repairs, { oa: { trimmed_trailing_user: 1 } });
  });

  it('LMSYS-Chat-1M Parquet: language names, redacted flag, no user column', async () => {
    const dir = tempDir();
    const pq = join(dir, 'train-00000-of-00006.parquet');
    await withDb((db) => db.run(`COPY (SELECT * FROM read_json(${sqlString(join(FIX, 'lmsys-chat-1m.jsonl'))})) TO ${sqlString(pq)} (FORMAT parquet)`));
    const r = await normalizeAndFilter(dir, `  - {name: lm, type: generic, preset: lmsys, files: [${pq}]}`);
    assert.equal(r.normalize.conversations_in, 4);
    assert.deepEqual(r.filter.drops, { language: 1, redacted: 1 });
    assert.deepEqual(r.kept.map((k) => [k.conversation_id, k.user_key]), [
      ['lm:33f01939a744455c869cb234afca47f1', null],
      ['lm:7d1e4ff6b21a4d0b8f3a3c94a2a0e2a1', null],
    ]);
  });

  it('OpenAI messages: content parts flattened, an image part dropped with a reason, big integer ids exact, flags by rule, text never re-encoded', async () => {
    const dir = tempDir();
    const r = await normalizeAndFilter(
      dir,
      `  - {name: oa, type: generic, preset: openai, fields: {id: id, toxic: flag}, files: [${join(FIX, 'openai-messages.jsonl')}], language: English}`,
      'stages: {filter: {drop_toxic: false}}',
    );
    assert.deepEqual(r.normalize.drops, { non_text_content: 1 });
    assert.deepEqual(
      r.kept.map((k) => [k.conversation_id, k.msgs]),
      [
        ['oa:1234567890123456788', 'user:Describe this.\nBriefly. | assistant:A cat.'],
        ['oa:1234567890123456789', 'user:Line one\nline "two" | assistant:ok'],
        ['oa:43', 'user:Hi | assistant:Hello.'],
      ],
    );
    const toxic = await withDb((db) =>
      db.all<{ conversation_id: string; toxic: boolean }>(`SELECT conversation_id, toxic FROM read_parquet(${sqlString(join(dir, 'runs', 'normalize', 'data.parquet'))}) ORDER BY 1`),
    );
    assert.deepEqual(toxic.map((t) => [t.conversation_id, t.toxic]), [['oa:1234567890123456788', false], ['oa:1234567890123456789', true], ['oa:43', true]]);
  });

  it('a flag that is no flag stops the run naming the field and the line', async () => {
    const dir = tempDir();
    const f = join(dir, 'x.jsonl');
    writeFileSync(f, '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "flag": "toxic"}\n');
    await assert.rejects(
      normalizeAndFilter(dir, `  - {name: x, type: generic, preset: openai, fields: {toxic: flag}, files: [${f}], language: English}`),
      (e: Error) => e instanceof SourceError && /x\.jsonl:1: field "flag" is "toxic", which is not a flag/.test(e.message),
    );
  });

  it('several files without ids: fallback ids unique across files (no duplicate_id), a literal name with brackets, zstd and gzip by content', async () => {
    const dir = tempDir();
    const rec = (q: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: 'a' }] });
    writeFileSync(join(dir, 'logs[1].jsonl'), [rec('one'), rec('two')].join('\n'));
    writeFileSync(join(dir, 'part2.jsonl'), [rec('three'), rec('four')].join('\n'));
    const { gzipSync } = await import('node:zlib');
    // Named .json, but gzip inside: detected from the bytes.
    writeFileSync(join(dir, 'part3.json'), gzipSync(Buffer.from(`[${rec('five')}, ${rec('six')}]`)));
    // zstd JSON lines under a name that says nothing (Node 20's zlib has no zstd; fzstd reads it).
    await withDb((db) =>
      db.run(`COPY (SELECT [{'role': 'user', 'content': 'seven'}, {'role': 'assistant', 'content': 'a'}] AS messages) TO ${sqlString(join(dir, 'part4.zst.tmp'))} (FORMAT json, COMPRESSION zstd)`),
    );
    copyFileSync(join(dir, 'part4.zst.tmp'), join(dir, 'part4.data'));
    const r = await normalizeAndFilter(
      dir,
      `  - {name: g, type: generic, preset: openai, files: ["${join(dir, 'logs[1].jsonl')}", ${join(dir, 'part2.jsonl')}, ${join(dir, 'part3.json')}, ${join(dir, 'part4.data')}], language: English}`,
    );
    assert.deepEqual(r.normalize.drops, {});
    assert.deepEqual(r.kept.map((k) => k.conversation_id), ['g:logs[1].jsonl#0', 'g:logs[1].jsonl#1', 'g:part2.jsonl#0', 'g:part2.jsonl#1', 'g:part3.json#0', 'g:part3.json#1', 'g:part4.data#0']);
    assert.match((r.normalize.notes as { adapters: Record<string, { format: string }> }).adapters['g']!.format, /jsonl, json\+gzip, jsonl\+zstd/);
  });

  it('a file missing the mapped column among several stops with exit 3 naming that file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.jsonl'), JSON.stringify({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] }) + '\n');
    writeFileSync(join(dir, 'b.jsonl'), JSON.stringify({ messages: [{ role: 'user', text: 'q' }, { role: 'assistant', text: 'a' }] }) + '\n');
    await assert.rejects(
      normalizeAndFilter(dir, `  - {name: g, type: generic, preset: openai, files: [${join(dir, 'a.jsonl')}, ${join(dir, 'b.jsonl')}], language: English}`),
      (e: Error) => e instanceof SourceError && e.exitCode === 3 && /does not fit .*b\.jsonl: none of its 1 records has fields\.content "content"/.test(e.message),
    );
  });
});
