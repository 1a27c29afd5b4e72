import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import type { Manifest } from '../../src/stages/shards/manifest.js';
import { REALDATA, ROOT, runCli, tempDir, withDb, writePipeline } from '../helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'corpora');
const head = (dir: string) => `name: u\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\nmax_drop_fraction: 1\n`;
const out = (dir: string) => ({
  manifest: JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8')) as Manifest,
  card: readFileSync(join(dir, 'out', 'README.md'), 'utf8'),
});

describe('sources without user ids: user_key none in the manifest, said by run and by the card', () => {
  it('a preset with no user column (LMSYS): run warns, the manifest records user_key none, the card says the split is by conversation', async () => {
    const dir = tempDir();
    const pq = join(dir, 'lmsys.parquet');
    await withDb((db) => db.run(`COPY (SELECT * FROM read_json(${sqlString(join(FIX, 'lmsys-chat-1m.jsonl'))})) TO ${sqlString(pq)} (FORMAT parquet)`));
    const { file } = writePipeline(
      dir,
      `${head(dir)}sources:\n  - {name: lm, type: generic, preset: lmsys, files: [${pq}], license: other}\n  - {name: oa, type: oasst, files: [${join(FIX, 'oasst-trees.jsonl.gz')}]}\nstages: {filter: {languages: []}}\n`,
    );
    const r = runCli(['run', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: sources\[0\] \(lm\) has no user field \(user_key: none\): its conversations are split by conversation, not by user/);
    assert.doesNotMatch(r.stderr, /sources\[1\] \(oa\).*user/);
    const { manifest, card } = out(dir);
    assert.deepEqual(
      manifest.sources.map((s) => [s.name, s.user_key, s.split]),
      [['lm', 'none', null], ['oa', 'the message tree (each turn may be written by a different volunteer)', null]],
    );
    assert.match(card, /\*\*`lm` has no user ids: its split is by conversation, not by user\*\*/);
    assert.match(card, /Where a source identifies its users, train \/ validation \/ test are user-disjoint/);
    assert.doesNotMatch(card, /`oa` has no user ids/);
  });

  it('a corpus whose rows turn out to have no user ids (the first allenai/WildChat: no hashed_ip) is warned about by run and recorded as none', () => {
    const dir = tempDir();
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: w, type: wildchat, files: [${join(FIX, 'allenai-wildchat-v1.jsonl')}], license: cc0-1.0}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: sources\[0\] \(w\): none of its 4 conversations has a user key \(user_key: none\), so its split is by conversation, not by user/);
    const { manifest, card } = out(dir);
    assert.equal(manifest.sources[0]!.user_key, 'none');
    assert.match(card, /\*\*`w` has no user ids: its split is by conversation, not by user\*\*/);
  });

  it('a corpus with user ids keeps the user-disjoint sentence and records what the key is', () => {
    const dir = tempDir();
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: w, type: wildchat, files: [${join(REALDATA, 'wildchat-1m-sample50.parquet')}], license: odc-by}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /user_key: none/);
    const { manifest, card } = out(dir);
    assert.deepEqual([manifest.sources[0]!.user_key, manifest.sources[0]!.conversations_without_user_key], ['hashed IP + country', undefined]);
    assert.match(card, /train \/ validation \/ test are \*\*user-disjoint\*\*/);
    assert.doesNotMatch(card, /by conversation, not by user/);
  });
});
