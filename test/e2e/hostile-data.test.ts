import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { SourceError } from '../../src/core/errors.js';
import { STAGES, buildDataset } from '../../src/stages/recipe.js';
import { OUT_MARKER } from '../../src/stages/shards/export-dataset.js';
import { SAMPLE_WILDCHAT, samplePipelineYaml, tempDir, withDb, writePipeline } from '../helpers.js';
import { stageDir } from '../../src/core/runner.js';

const turn = (role: string, content: string) => ({ role, content });
const pair = (q: string, a = 'ok') => [turn('user', q), turn('assistant', a)];

/** Where each conversation of a finished run ended: 'kept', or '<stage>:<reason>'. */
async function fates(runDir: string, ids: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = Object.fromEntries(ids.map((id) => [id, 'kept']));
  await withDb(async (db) => {
    for (const spec of STAGES) {
      const drops = join(stageDir(runDir, spec), 'drops.parquet');
      if (!existsSync(drops)) continue;
      for (const r of await db.all<{ conversation_id: string; reason: string }>(`SELECT conversation_id, reason FROM read_parquet(${sqlString(drops)})`)) {
        if (r.conversation_id in out) {
          assert.equal(out[r.conversation_id], 'kept', `${r.conversation_id} dropped twice`);
          out[r.conversation_id] = `${spec.name}:${r.reason}`;
        }
      }
    }
  });
  return out;
}

/** Shard rows without their messages, read by hyparquet: a Parquet reader independent of DuckDB. */
async function shardRows(outDir: string): Promise<Record<string, unknown>[]> {
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const rows: Record<string, unknown>[] = [];
  for (const f of readdirSync(join(outDir, 'data'))) {
    const file = await asyncBufferFromFile(join(outDir, 'data', f));
    rows.push(...((await parquetReadObjects({ file, compressors, columns: ['conversation_id', 'turn_index', 'kind', 'target'] })) as Record<string, unknown>[]));
  }
  return rows;
}

describe('hostile conversations: each is kept intact or dropped with its reason, never lost', () => {
  it('one corpus of every awkward shape, through the whole pipeline', async () => {
    const dir = tempDir();
    const long = Array.from({ length: 1000 }, (_, i) => pair(`question number ${i} about topic ${i * 7919 % 1009}`, `answer ${i}`)).flat();
    const records: [string, unknown][] = [
      ['plain', { messages: pair('how do I bake bread at home with a cast iron pot?') }],
      ['nul-escaped', { messages: pair('text with a NUL \u0000 in the middle and more words after it') }],
      ['lone-surrogate', { messages: pair('cut in half \ud83d and then the rest of the sentence') }],
      ['thousand-turns', { messages: long }],
      ['tool-role', { messages: [turn('user', 'call the weather tool for Paris'), turn('tool', '{"temp": 12}'), turn('assistant', 'It is 12 degrees.')] }],
      ['leading-system', { messages: [turn('system', 'You are terse.'), ...pair('summarize the plot of hamlet in one line')] }],
      ['middle-system', { messages: [...pair('first question about rivers'), turn('system', 'be nicer'), turn('assistant', 'sure')] }],
      ['consecutive-users', { messages: [turn('user', 'hello?'), turn('user', 'anyone there?'), turn('assistant', 'yes')] }],
      ['unanswered', { messages: [turn('user', 'is this thing on')] }],
      ['empty', { messages: [] }],
      ['null-messages', { messages: null }],
      ['only-system', { messages: [turn('system', 'nothing else')] }],
      ['null-role', { messages: [{ role: null, content: 'who am I' }, turn('assistant', 'unknown')] }],
      ['null-content', { messages: [{ role: 'user', content: null }, turn('assistant', 'empty question')] }],
      ['plain', { messages: pair('a repeated id: the first row with this id is kept, this one is not') }],
    ];
    const ids = ['plain', 'nul-escaped', 'lone-surrogate', 'thousand-turns', 'tool-role', 'leading-system', 'middle-system', 'consecutive-users', 'unanswered', 'empty', 'null-messages', 'only-system', 'null-role', 'null-content'];
    // A byte-order mark before the first record; a blank line and a CRLF line ending.
    const lines = records.map(([id, r]) => JSON.stringify({ id, ...(r as object) }));
    writeFileSync(join(dir, 'a.jsonl'), '\ufeff' + lines.join('\n') + '\n\n');
    writeFileSync(join(dir, 'b.jsonl'), lines.slice(0, 2).join('\r\n') + '\r\n');
    const { pipeline } = writePipeline(
      dir,
      `name: hostile
run_dir: ${join(dir, 'runs')}
out_dir: ${join(dir, 'out')}
sources:
  - {name: a, type: generic, preset: openai, fields: {id: id}, language: English, files: [${join(dir, 'a.jsonl')}]}
  # The same conversations again under another source: their ids differ by prefix, their text does not.
  - {name: b, type: generic, preset: openai, fields: {id: id}, language: English, files: [${join(dir, 'b.jsonl')}]}
stages:
  dedup: {near: {enabled: false}}
  # A window the 1,000-turn conversation fits whole, so its samples keep their full history.
  tokenize: {max_seq_len: 1048576}
  split: {check_leaks: false}
`,
    );
    const r = await buildDataset(pipeline(), silentLogger);
    const all = [...ids.map((id) => `a:${id}`), 'b:plain', 'b:nul-escaped'];
    const got = await fates(join(dir, 'runs'), all);
    assert.deepEqual(got, {
      // Two rows carry this id: the second is dropped (below, the first is in the shards).
      'a:plain': 'normalize:duplicate_id',
      'a:nul-escaped': 'kept',
      'a:lone-surrogate': 'normalize:invalid_unicode',
      'a:thousand-turns': 'kept',
      'a:tool-role': 'filter:unknown_role',
      'a:leading-system': 'kept',
      'a:middle-system': 'filter:unknown_role',
      'a:consecutive-users': 'filter:consecutive_roles',
      'a:unanswered': 'filter:ends_with_user',
      'a:empty': 'filter:empty_conversation',
      'a:null-messages': 'filter:empty_conversation',
      'a:only-system': 'filter:empty_conversation',
      'a:null-role': 'filter:unknown_role',
      'a:null-content': 'filter:empty_user_turn',
      'b:plain': 'dedup:exact_duplicate',
      'b:nul-escaped': 'dedup:exact_duplicate',
    });
    // The repeated id is the 15th record of a.jsonl: dropped as duplicate_id, counted.
    assert.equal(r.markers[0]!.drops['duplicate_id'], 1);
    assert.equal(r.markers[0]!.conversations_in, records.length + 2);

    const rows = await shardRows(join(dir, 'out'));
    const of = (id: string) => rows.filter((x) => x['conversation_id'] === id);
    assert.equal(of('a:plain').find((x) => x['turn_index'] === 1)!['target'], 'how do I bake bread at home with a cast iron pot?');
    assert.equal(of('a:thousand-turns').length, 1001, 'K+1 samples for 1,000 user turns');
    const history = await withDb((db) =>
      db.one<{ n: unknown }>(`SELECT len(messages) AS n FROM read_parquet(${sqlString(join(dir, 'out', 'data', '*.parquet'))}) WHERE conversation_id = 'a:thousand-turns' AND kind = 'termination'`),
    );
    assert.equal(Number(history.n), 1 + 2000, 'the termination sample carries the whole conversation');
    // Read back by a second Parquet implementation: the NUL survives byte for byte.
    assert.equal(of('a:nul-escaped').find((x) => x['turn_index'] === 1)!['target'], 'text with a NUL \u0000 in the middle and more words after it');
    assert.equal(of('a:leading-system').find((x) => x['turn_index'] === 1)!['target'], 'summarize the plot of hamlet in one line');
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    for (const s of manifest.stages) {
      const dropped = Object.values(s.dropped as Record<string, number>).reduce((a, b) => a + b, 0);
      assert.equal(s.conversations_in, s.conversations_out + dropped, `${s.name}: in = out + drops in the manifest`);
    }
  });

  it('a 50 MB user turn is read whole and dropped as turn_too_long', async () => {
    const dir = tempDir();
    const big = 'x'.repeat(50 * 1024 * 1024);
    const line = (id: string, q: string) =>
      JSON.stringify({ conversation_id: id, user_id: id, conversation_history: [{ turn: 0, role: 'user', content: q }, { turn: 0, role: 'model', content: 'ok', if_chosen: true }] });
    writeFileSync(join(dir, 'p.jsonl'), `${line('big', big)}\n${line('small', 'a normal question about the weather')}\n`);
    const { pipeline } = writePipeline(
      dir,
      `name: big\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: p, type: prism, files: [${join(dir, 'p.jsonl')}], split: test_ood}\n`,
    );
    const r = await buildDataset(pipeline(), silentLogger);
    assert.deepEqual(r.markers[1]!.drops, { turn_too_long: 1 });
    assert.deepEqual(await fates(join(dir, 'runs'), ['p:big', 'p:small']), { 'p:big': 'filter:turn_too_long', 'p:small': 'kept' });
  });

  it('everything filtered out, or no rows at all: the run fails with exit 3 naming the stage and reasons, and writes no dataset (issue 11)', async () => {
    const d1 = tempDir();
    const d2 = tempDir();
    writeFileSync(join(d2, 'empty.jsonl'), '\n');
    await withDb((db) =>
      db.run(`COPY (SELECT * FROM read_parquet(${sqlString(SAMPLE_WILDCHAT)}) LIMIT 0) TO ${sqlString(join(d2, 'zero.parquet'))} (FORMAT parquet)`),
    );
    const cases = [
      { name: 'all filtered', dir: d1, yaml: samplePipelineYaml(d1, 'stages:\n  filter:\n    languages: [Klingon]\n') },
      {
        name: 'zero rows in every source type',
        dir: d2,
        yaml: `name: zero\nrun_dir: ${join(d2, 'runs')}\nout_dir: ${join(d2, 'out')}\nsources:
  - {name: w, type: wildchat, files: [${join(d2, 'zero.parquet')}]}
  - {name: p, type: prism, files: [${join(d2, 'empty.jsonl')}], split: test_ood}
  - {name: g, type: generic, preset: sharegpt, files: [${join(d2, 'empty.jsonl')}]}
`,
      },
    ];
    for (const c of cases) {
      const { pipeline } = writePipeline(c.dir, c.yaml);
      await assert.rejects(buildDataset(pipeline(), silentLogger), (e: Error) => {
        assert.ok(e instanceof SourceError && e.exitCode === 3, c.name);
        if (c.dir === d1) assert.match(e.message, /stage filter kept no conversation of \d+: language \d+ \(e\.g\. /, c.name);
        else assert.match(e.message, /stage normalize received no conversations: the sources hold none/, c.name);
        return true;
      });
      assert.ok(!existsSync(join(c.dir, 'out')), `${c.name}: no empty dataset written`);
    }
  });
});
