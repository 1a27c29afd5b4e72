import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactKeySql } from '../../src/stages/dedup/dedup-stage.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline, stageDir } from '../../src/core/runner.js';
import { STAGES } from '../../src/stages/recipe.js';
import { runCli, tempDir, withDb, writePipeline } from '../helpers.js';

const conv = (...turns: string[]) => JSON.stringify(turns.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })));

describe('exact dedup key', () => {
  it('ignores case and any whitespace at the ends or between words, and assistant turns', async () => {
    await withDb(async (db) => {
      const key = (msgs: string, text: 'all_user_turns' | 'first_user_turn' = 'all_user_turns') =>
        db
          .one<{ k: string }>(`SELECT ${exactKeySql(text)} AS k FROM (SELECT from_json($j, '[{"role": "VARCHAR", "content": "VARCHAR"}]') AS messages)`, { j: msgs })
          .then((r) => r.k);
      const base = await key(conv('Write a poem', 'a', 'Shorter please', 'b'));
      assert.equal(await key(conv('  write A\tpoem \n', 'other reply', 'shorter\u00a0please  \n', 'x')), base);
      assert.notEqual(await key(conv('Write a poem', 'a', 'Longer please', 'b')), base);
      assert.notEqual(await key(conv('Write a poem', 'a')), base);
      assert.equal(await key(conv('Write a poem', 'a'), 'first_user_turn'), await key(conv('write a poem', 'b', 'more', 'c'), 'first_user_turn'));
    });
  });
});

describe('dedup stage: keeper choice and near misses', () => {
  // Three conversations opening with the same request: the earliest has 1 user turn, the
  // next 3 (most turns), the last one long answers (most characters).
  const opening = 'please write a short poem about the sea at night with stars and waves';
  const row = (h: string, minute: number, turns: string[]) =>
    JSON.stringify({
      conversation_hash: h, model: 'm', timestamp: `2023-04-09T10:${String(minute).padStart(2, '0')}:00Z`, turn: turns.length / 2,
      conversation: turns.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content, turn_identifier: i >> 1 })),
      language: 'English', toxic: false, redacted: false, country: 'X', hashed_ip: h,
    });
  const rows = [
    row('a', 1, [opening, 'ok']),
    row('b', 2, [`${opening}!`, 'ok', 'more', 'ok', 'again', 'ok']),
    row('c', 3, [`${opening}.`, 'x'.repeat(5000)]),
    row('d', 4, ['tell me about the weather in paris in spring and the best places to visit', 'ok']),
  ];
  async function run(keep: string): Promise<{ dir: string; kept: string[]; keepBy: string[] }> {
    const dir = tempDir();
    const jsonl = join(dir, 'c.jsonl');
    writeFileSync(jsonl, rows.join('\n') + '\n');
    const parquet = join(dir, 'c.parquet');
    await withDb((db) =>
      db.run(
        `COPY (SELECT * FROM read_json(${sqlString(jsonl)}, columns = {conversation_hash: 'VARCHAR', model: 'VARCHAR', timestamp: 'TIMESTAMP', turn: 'BIGINT',
           conversation: 'STRUCT(role VARCHAR, content VARCHAR, turn_identifier BIGINT)[]', language: 'VARCHAR', toxic: 'BOOLEAN', redacted: 'BOOLEAN', country: 'VARCHAR', hashed_ip: 'VARCHAR'}))
         TO ${sqlString(parquet)} (FORMAT parquet)`,
      ),
    );
    const yaml = `name: k\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: wc, type: wildchat, files: [${parquet}]}\nstages:\n  filter: {max_user_turns: null}\n  dedup: {keep: ${keep}}\n`;
    const p = writePipeline(dir, yaml).pipeline();
    const r = await runPipeline(p, STAGES.slice(0, 3), { log: silentLogger });
    const sdir = stageDir(p.config.run_dir, { name: r.markers.at(-1)!.stage });
    const c = await withDb((db) => db.all<{ id: string; kept: boolean; keep_by: string }>(`SELECT conversation_id AS id, kept, keep_by FROM read_parquet(${sqlString(join(sdir, 'clusters.parquet'))}) ORDER BY 1`));
    return { dir: join(dir, 'runs'), kept: c.filter((x) => x.kept).map((x) => x.id.split(':')[1]!), keepBy: [...new Set(c.map((x) => x.keep_by))] };
  }

  for (const [keep, survivor] of [['earliest', 'a'], ['most_turns', 'b'], ['longest', 'c']] as const) {
    it(`keep: ${keep} keeps conversation ${survivor} of the cluster and records the rule`, async () => {
      const r = await run(keep);
      assert.deepEqual(r.kept.sort(), [survivor, 'd'].sort());
      assert.deepEqual(r.keepBy, [keep]);
    });
  }

  it('inspect --dedup --near-misses shows the weakest merges and refuses a bad N', async () => {
    const r = await run('earliest');
    const out = runCli(['inspect', '--dedup', r.dir, '--near-misses', '5']);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /most similar pairs that were not merged/);
    assert.match(out.stdout, /least similar pairs that were merged \(2 found\)/);
    assert.match(out.stdout, /please write a short poem about the sea/);
    assert.equal(runCli(['inspect', '--dedup', r.dir, '--near-misses', 'x']).status, 3);
  });
});

describe('dedup stage: template families', () => {
  // A form filled in with one name 6 times, and 6 ordinary prompts that share one stock
  // phrase: with max_others 3 both are frequent, but the phrase covers a small part of each.
  const form = (name: string) => `please write a formal letter to my landlord ${name} asking him to fix the broken heating in my flat before the winter comes`;
  const names = ['anna', 'bruno', 'chiara', 'dmitri', 'elena', 'farid'];
  const topics = ['tax law in portugal for freelancers', 'growing tomatoes on a cold balcony', 'the history of the byzantine navy', 'training a puppy to walk on a leash', 'compiling rust code for a raspberry pi', 'baking sourdough without a dutch oven'];
  const row = (h: string, minute: number, text: string) =>
    JSON.stringify({
      conversation_hash: h, model: 'm', timestamp: `2023-04-09T10:${String(minute).padStart(2, '0')}:00Z`, turn: 1,
      conversation: [{ role: 'user', content: text, turn_identifier: 0 }, { role: 'assistant', content: 'ok', turn_identifier: 0 }],
      language: 'English', toxic: false, redacted: false, country: 'X', hashed_ip: h,
    });
  const rows = [
    ...names.map((n, i) => row(`f${i}`, i, form(n))),
    ...topics.map((t, i) => row(`o${i}`, 10 + i, `can you please explain in detail ${t}`)),
  ];
  async function run(action: 'drop' | 'keep') {
    const dir = tempDir();
    const jsonl = join(dir, 'c.jsonl');
    writeFileSync(jsonl, rows.join('\n') + '\n');
    const parquet = join(dir, 'c.parquet');
    await withDb((db) =>
      db.run(
        `COPY (SELECT * FROM read_json(${sqlString(jsonl)}, columns = {conversation_hash: 'VARCHAR', model: 'VARCHAR', timestamp: 'TIMESTAMP', turn: 'BIGINT',
           conversation: 'STRUCT(role VARCHAR, content VARCHAR, turn_identifier BIGINT)[]', language: 'VARCHAR', toxic: 'BOOLEAN', redacted: 'BOOLEAN', country: 'VARCHAR', hashed_ip: 'VARCHAR'}))
         TO ${sqlString(parquet)} (FORMAT parquet)`,
      ),
    );
    // Near-dedup off: the form's instances are also near-duplicates of each other.
    const yaml = `name: t\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: wc, type: wildchat, files: [${parquet}]}\nstages:\n  dedup: {near: {enabled: false}, templates: {ngram: 4, max_others: 3, action: ${action}}}\n`;
    const p = writePipeline(dir, yaml).pipeline();
    const r = await runPipeline(p, STAGES.slice(0, 3), { log: silentLogger });
    const sdir = stageDir(p.config.run_dir, { name: 'dedup' });
    const c = await withDb((db) =>
      db.all<{ id: string; kept: boolean; templated: boolean; family: string | null }>(
        `SELECT split_part(conversation_id, ':', 2) AS id, kept, templated, template_family AS family FROM read_parquet(${sqlString(join(sdir, 'clusters.parquet'))}) ORDER BY 1`,
      ),
    );
    return { marker: r.markers.at(-1)!, clusters: c, report: readFileSync(join(sdir, 'dedup_report.md'), 'utf8') };
  }

  it('action drop: drops the whole family and no prompt that only shares a phrase; the report names the family with its count and an example', async () => {
    const r = await run('drop');
    assert.deepEqual(r.marker.drops, { templated_prompt: 6 });
    assert.deepEqual(r.clusters.filter((x) => x.templated).map((x) => x.id), ['f0', 'f1', 'f2', 'f3', 'f4', 'f5']);
    assert.ok(r.clusters.every((x) => x.templated === !x.kept));
    assert.equal(new Set(r.clusters.filter((x) => x.templated).map((x) => x.family)).size, 1);
    assert.match(r.report, /## Template families \(1 of 1\)/);
    assert.match(r.report, /1\. 6 conversations, e\.g\. `wc:f0:[^`]+`: please write a formal letter to my landlord anna/);
  });

  it('action keep: reports the family and keeps every member', async () => {
    const r = await run('keep');
    assert.deepEqual(r.marker.drops, {});
    assert.equal(r.marker.conversations_out, 12);
    assert.deepEqual(r.clusters.filter((x) => x.templated).map((x) => x.id), ['f0', 'f1', 'f2', 'f3', 'f4', 'f5']);
    assert.ok(r.clusters.every((x) => x.kept));
    assert.match(r.report, /6 in 1 families .*kept/);
  });
});
