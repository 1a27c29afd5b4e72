import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString, toNumber } from '../../src/core/db.js';
import { silentLogger } from '../../src/core/logger.js';
import { runPipeline } from '../../src/core/runner.js';
import { sketchBatch } from '../../src/stages/dedup/document-sketch.js';
import { lshShape } from '../../src/stages/dedup/near-dedup.js';
import { STAGES } from '../../src/stages/recipe.js';
import { crossSplitLeaks } from '../../src/stages/split/cross-split-leaks.js';
import { LEAK_TEXTS } from '../../src/stages/split/split-stage.js';
import { tempDir, withDb, writePipeline } from '../helpers.js';

// The leak check reads each conversation's first kept user turn from the intents file by
// row position, a bucket of conversation ids at a time (see writeLeakTexts). The oracle here
// picks the same texts the plain way (a join on conversation_id), sketches them and runs the
// in-memory check over all of them at once, in conversation_id order.

/** Deterministic pseudo-words. */
function words(seed: number, n: number): string[] {
  let x = seed >>> 0;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return `w${x % 5000}`;
  });
}

/**
 * 400 two- and three-turn conversations, one user each, ids not in file order. Groups of four
 * (conversations 0-199) share a first kept user turn: two exact copies (equal similarity: the
 * tie goes to the first in conversation_id order), one with a word changed, and in every other
 * group one whose first turn is a long paste that tokenize cannot fit, so that its first kept
 * turn is its second. Conversations 380 on are one long turn, which overflow: drop loses.
 */
async function corpus(path: string): Promise<void> {
  const rows: { id: string; turns: { role: string; content: string }[] }[] = [];
  for (let c = 0; c < 400; c++) {
    const group = c < 200 ? c >> 2 : -1;
    const member = c & 3;
    const base = group >= 0 ? words(1000 + group, 30) : words(5000 + c, 30);
    const mine = group >= 0 && member >= 2 ? base.map((w, i) => (i === 7 ? `edit${c}` : w)) : base;
    const long = words(9000 + c, 400).join(' ');
    const user: string[] =
      c >= 380 ? [long]
      : group >= 0 && member === 3 && group % 2 === 0 ? [long, mine.join(' '), words(7000 + c, 12).join(' ')]
      : [mine.join(' '), words(7000 + c, 12).join(' ')];
    const turns = user.flatMap((u, i) => [{ role: 'user', content: u }, { role: 'assistant', content: `answer ${c} ${i}` }]);
    rows.push({ id: `conv-${String((c * 7919) % 10007).padStart(5, '0')}`, turns });
  }
  await withDb((db) =>
    db.run(
      `COPY (SELECT r.id, r.turns FROM (SELECT unnest(?::STRUCT(id VARCHAR, turns STRUCT(role VARCHAR, content VARCHAR)[])[], recursive := false) AS r))
       TO ${sqlString(path)} (FORMAT parquet)`,
      [JSON.stringify(rows)],
    ),
  );
}

async function runThroughSplit(files: string, overflow: string, bucketRows: number) {
  const dir = tempDir();
  const { pipeline } = writePipeline(
    dir,
    `name: leak-texts\nseed: 3\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}
sources:
  - {name: g, type: generic, files: [${files}], fields: {id: id, messages: turns}, language: English}
stages:
  dedup: {exact: {enabled: false}, near: {enabled: false}, templates: {enabled: false}}
  intents: {backend: template}
  tokenize: {max_seq_len: 512, overflow: ${overflow}}
`,
  );
  const saved = { ...LEAK_TEXTS };
  LEAK_TEXTS.bucketRows = bucketRows;
  try {
    const p = pipeline();
    await runPipeline(p, STAGES.slice(0, STAGES.findIndex((s) => s.name === 'split') + 1), { log: silentLogger });
    return { dir, p, runs: join(dir, 'runs') };
  } finally {
    Object.assign(LEAK_TEXTS, saved);
  }
}

describe('split leak check texts', () => {
  for (const [overflow, shapeWanted] of [['truncate_history', 'later_first'], ['drop', 'all_dropped']] as const) {
  it(`finds the same leaks in one bucket or many, and those a plain join of the texts finds (overflow: ${overflow})`, async () => {
    const src = join(tempDir(), 'conversations.parquet');
    await corpus(src);
    const one = await runThroughSplit(src, overflow, 1_000_000);
    const many = await runThroughSplit(src, overflow, 7);
    const file = (r: { runs: string }, f: string) => join(r.runs, 'split', f);
    assert.ok(readFileSync(file(one, 'leaks.parquet')).equals(readFileSync(file(many, 'leaks.parquet'))), 'leaks.parquet differs with 7-row buckets');
    assert.ok(readFileSync(file(one, 'data.parquet')).equals(readFileSync(file(many, 'data.parquet'))), 'data.parquet differs with 7-row buckets');

    const { p, runs } = many;
    const near = p.config.stages.dedup.near;
    const threshold = p.config.stages.split.leak_threshold;
    const q = (s: string) => sqlString(join(runs, s, 'data.parquet'));
    const { docs, shape, leaks } = await withDb(async (db) => {
      const shape = await db.one<{ later_first: unknown; all_dropped: unknown }>(
        `SELECT count(*) FILTER (WHERE list_position(t.too_long, false) > 1) AS later_first,
                (SELECT count(*) FROM read_parquet(${q('intents')})) - (SELECT count(*) FROM read_parquet(${q('tokenize')})) AS all_dropped
         FROM read_parquet(${q('tokenize')}) t`,
      );
      const docs = await db.all<{ id: string; split: string; text: string }>(
        `SELECT s.conversation_id AS id, s.split,
                coalesce(i.messages[2 * list_position(t.too_long[1 : len(i.messages) // 2], false) - 1].content, '') AS text
         FROM read_parquet(${q('split')}) s JOIN read_parquet(${q('tokenize')}) t USING (conversation_id)
         JOIN read_parquet(${q('intents')}) i USING (conversation_id) ORDER BY s.conversation_id`,
      );
      const leaks = await db.all<{ conversation_id: string; train_conversation_id: string; similarity: number }>(
        `SELECT conversation_id, train_conversation_id, similarity FROM read_parquet(${sqlString(join(runs, 'split', 'leaks.parquet'))}) ORDER BY conversation_id`,
      );
      return { docs, shape, leaks };
    });
    assert.ok(toNumber(shape[shapeWanted]) > 0, `the corpus exercises ${shapeWanted}`);
    assert.ok(leaks.length > 0, 'the sample plants near-duplicate prompts across users');

    const { bands, rows } = lshShape({ ...near, threshold, bands: null, rows: null, verify: true });
    const sk = sketchBatch(docs.map((d) => d.text), {
      ngram: near.ngram, numPerm: near.num_perm, seed: p.config.seed, method: near.method, templateNgram: 0, templateMaxPerDoc: 0, bands, rows,
    });
    const isTrain = Uint8Array.from(docs.map((d) => (d.split === 'train' ? 1 : 0)));
    const eligible = Uint8Array.from(docs.map((_, i) => (sk.words[i]! >= near.min_words ? 1 : 0)));
    const want = crossSplitLeaks(sk.signatures, docs.length, isTrain, { numPerm: near.num_perm, bands, rows, threshold, eligible });
    const expected = docs.flatMap((d, i) => (want.match[i]! >= 0 ? [[d.id, docs[want.match[i]!]!.id, want.similarity[i]!]] : []));
    assert.deepEqual(leaks.map((l) => [l.conversation_id, l.train_conversation_id, l.similarity]), expected);
  });
  }
});
