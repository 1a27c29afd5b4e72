import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { corpusStats, realisticRows, REALISTIC_TARGETS, writeRealisticCorpus, type CorpusStats, type CorpusFiles } from '../../src/bench/realistic-corpus.js';
import { Db, sqlString } from '../../src/core/db.js';
import { REALDATA, tempDir } from '../helpers.js';

const N = 20_000;

function digest(rows: Iterable<string>, count: number): string {
  const h = createHash('sha256');
  let k = 0;
  for (const r of rows) {
    h.update(r).update('\n');
    if (++k === count) break;
  }
  return h.digest('hex');
}

describe('the realistic bench corpus', () => {
  let dir: string;
  let corpus: CorpusFiles;
  let db: Db;
  let s: CorpusStats;
  before(async () => {
    dir = tempDir('userlm-realistic-');
    corpus = await writeRealisticCorpus(join(dir, 'corpus'), N);
    db = await Db.open({ threads: 2 });
    s = await corpusStats(db, corpus.glob);
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is the same for the same seed and another for another seed', () => {
    const a = digest(realisticRows(N), 500);
    assert.equal(digest(realisticRows(N), 500), a);
    assert.notEqual(digest(realisticRows(N, { seed: 15 }), 500), a);
  });

  it('has the column names and types of the real WildChat-1M rows, in their order', async () => {
    const describe = (f: string) => db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlString(f)})`);
    const real = await describe(join(REALDATA, 'wildchat-1m-sample50.parquet'));
    const gen = await describe(corpus.glob);
    assert.deepEqual(gen.map((c) => [c.column_name, c.column_type]), real.map((c) => [c.column_name, c.column_type]));
    assert.equal(await db.count(`SELECT 1 FROM read_parquet(${sqlString(corpus.glob)})`), N);
    // turn_identifier of the first message names a conversation (the adapter's id): unique.
    assert.equal(await db.count(`SELECT DISTINCT conversation[1].turn_identifier FROM read_parquet(${sqlString(corpus.glob)})`), N);
  });

  it('lands near the statistics issue 14 measured on a realistic corpus', () => {
    const t = REALISTIC_TARGETS;
    const near = (name: string, got: number, want: number, tol: number) => assert.ok(Math.abs(got - want) <= tol, `${name}: ${got} is not within ${tol} of ${want}`);
    near('user turns per conversation', s.userTurnsMean, t.userTurnsMean, 0.1);
    near('single-turn share', s.singleTurnShare, t.singleTurnShare, 0.02);
    assert.ok(s.maxUserTurns >= 15 && s.maxUserTurns <= 30, `most user turns ${s.maxUserTurns}`);
    near('user message median', s.userMedian, t.userMedian, 20);
    near('first user turn median', s.firstUserMedian, t.firstUserMedian, 30);
    near('empty share', s.emptyShare, t.emptyShare, 0.002);
    near('paste share', s.pasteShare, t.pasteShare, 0.003);
    near('code share of pastes', s.pasteCodeShare, t.pasteCodeShare, 0.1);
    near('assistant median', s.assistantMedian, t.assistantMedian, 100);
    near('assistant p99', s.assistantP99, t.assistantP99, 700);
    assert.equal(s.languages, t.languages);
    near('English', s.languageShares['English']!, t.english, 0.03);
    near('Chinese', s.languageShares['Chinese']!, t.chinese, 0.02);
    near('Russian', s.languageShares['Russian']!, t.russian, 0.02);
    assert.ok(s.unspacedSpaces < s.englishSpaces / 2 && s.englishSpaces > 12, `spaces per 100 chars: zh/ja/th ${s.unspacedSpaces}, English ${s.englishSpaces}`);
    near('distinct users', s.users, (t.usersPerMillion * N) / 1e6, 0.2 * ((t.usersPerMillion * N) / 1e6));
    assert.ok(s.maxPerUser < 0.05 * N, `one user has ${s.maxPerUser} conversations`);
    assert.equal(s.countries, t.countries);
    near('toxic share', s.toxicShare, 0.03, 0.01);
    // Re-asks and greetings repeat, the rest does not (a wrapped random stream would repeat rows).
    assert.ok(s.distinctUserSides > 0.9 && s.distinctUserSides < 1, `distinct user sides ${s.distinctUserSides}`);
    assert.ok(s.textGB * 1e9 > 3e3 * N, `${s.textGB} GB of message text`);
  });
});
