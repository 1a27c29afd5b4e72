import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateCorpus, writeCorpusParquet } from '../../src/bench/synthetic-corpus.js';
import { exactKeepers } from '../../src/stages/dedup/exact-duplicates.js';
import { exactKey, TURN_SEPARATOR } from '../../src/stages/dedup/exact-key.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqlString } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline, stageDir } from '../../src/core/runner.js';
import { STAGES } from '../../src/stages/recipe.js';
import { runCli, tempDir, withDb, writePipeline } from '../helpers.js';

const conv = (...turns: string[]) => JSON.stringify(turns.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })));

describe('exact dedup key', () => {
  it('ignores case and any whitespace at the ends or between words, and tells turns apart', () => {
    const key = (turns: string[], first = false) => {
      const out = new Uint32Array(2);
      exactKey(turns.join(TURN_SEPARATOR), first, out, 0);
      return [...out].join(':');
    };
    const base = key(['Write a poem', 'Shorter please']);
    assert.equal(key(['  write A\tpoem \n', 'shorter\u00a0please  \n']), base);
    assert.notEqual(key(['Write a poem', 'Longer please']), base);
    assert.notEqual(key(['Write a poem']), base);
    assert.notEqual(key(['Write a', 'poem shorter please']), base, 'where one turn ends matters');
    assert.notEqual(key(['Write apoem', 'Shorter please']), base, 'a space is not nothing');
    assert.equal(key(['Write a poem'], true), key(['write a poem', 'more'], true));
    assert.equal(key(['ÉCRIS UN POÈME']), key(['écris un poème']));
    assert.notEqual(key(['écris un poème']), key(['ecris un poeme']), 'accents count: exact is exact');
  });

  it('groups equal keys and keeps the first in priority order', () => {
    // Keys: docs 0, 2, 3 equal; 1 alone. Priority: 3, 1, 0, 2.
    const keys = Uint32Array.from([7, 9, 1, 2, 7, 9, 7, 9]);
    assert.deepEqual([...exactKeepers(keys, Int32Array.from([3, 1, 0, 2]))], [3, 1, 3, 3]);
    // Halves matter apart: same low half, other high half.
    assert.deepEqual([...exactKeepers(Uint32Array.from([5, 1, 5, 2]), Int32Array.from([0, 1]))], [0, 1]);
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

describe('dedup stage: output independent of worker threads', () => {
  it('writes byte-identical data, drops and clusters with 0 and 2 workers, over many batches', async () => {
    // 20k conversations: several 8k-row batches, exact copies, edited copies and templates.
    const corpus = generateCorpus(20_000, 5);
    const base = tempDir();
    const parquet = join(base, 'c.parquet');
    await writeCorpusParquet(corpus, parquet);
    const files = async (workers: number) => {
      const dir = join(base, `w${workers}`);
      mkdirSync(dir, { recursive: true });
      const yaml = `name: w\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nsources:\n  - {name: wc, type: wildchat, files: [${parquet}]}\nstages:\n  filter: {languages: []}\n  dedup: {near: {workers: ${workers}}}\n`;
      const p = writePipeline(dir, yaml).pipeline();
      const r = await runPipeline(p, STAGES.slice(0, 3), { log: silentLogger });
      const m = r.markers.at(-1)!;
      assert.equal(m.stage, 'dedup');
      return { drops: m.drops, files: Object.fromEntries(m.files.map((f) => [f.path, f.sha256])) };
    };
    const a = await files(0);
    const b = await files(2);
    assert.deepEqual(b, a);
    assert.ok((a.drops['exact_duplicate'] ?? 0) > 0 && (a.drops['near_duplicate'] ?? 0) > 0 && (a.drops['templated_prompt'] ?? 0) > 0, JSON.stringify(a.drops));
  });
});
