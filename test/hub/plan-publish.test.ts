import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchGlob } from '../../src/hub/match-glob.js';
import { planPublish, type LocalFile, type RemoteEntry } from '../../src/hub/plan-publish.js';

const file = (path: string, n: number): LocalFile => ({ path, size: n, sha256: `sha256-${path}-${n}`, gitOid: `git-${path}-${n}` });

describe('planPublish', () => {
  const shards = Array.from({ length: 120 }, (_, i) => file(`data/train-${String(i).padStart(5, '0')}-of-00120.parquet`, i + 1));
  const local = [file('README.md', 5), file('manifest.json', 7), ...shards.slice().reverse()];

  it('commits at most the limit per batch, shards first and the card last', () => {
    const plan = planPublish(local, new Map(), { maxFilesPerCommit: 50 });
    assert.deepEqual(plan.batches.map((b) => b.length), [50, 50, 22]);
    const order = plan.batches.flat().map((f) => f.path);
    assert.deepEqual(order.slice(0, 2), ['data/train-00000-of-00120.parquet', 'data/train-00001-of-00120.parquet']);
    assert.deepEqual(order.slice(-2), ['manifest.json', 'README.md']);
    assert.deepEqual(plan.skipped, []);
  });

  it('skips what the Hub holds with the same content: sha256 for LFS, git blob id for regular files', () => {
    const remote = new Map<string, RemoteEntry>([
      ['data/train-00000-of-00120.parquet', { size: 1, oid: 'pointer', lfs: { oid: 'sha256-data/train-00000-of-00120.parquet-1' } }],
      ['data/train-00001-of-00120.parquet', { size: 2, oid: 'pointer', lfs: { oid: 'something else' } }],
      ['manifest.json', { size: 7, oid: 'git-manifest.json-7' }],
      ['README.md', { size: 5, oid: 'an older card' }],
    ]);
    const plan = planPublish(local, remote, { maxFilesPerCommit: 50 });
    assert.deepEqual(plan.skipped.map((f) => f.path), ['data/train-00000-of-00120.parquet', 'manifest.json']);
    const todo = plan.batches.flat().map((f) => f.path);
    assert.equal(todo.length, 120);
    assert.ok(todo.includes('data/train-00001-of-00120.parquet') && todo.includes('README.md'));
  });
});

describe('matchGlob', () => {
  it('matches like a shell glob over repo paths', () => {
    const m = matchGlob(['data/train-*.parquet', 'conv?.jsonl', 'x/**/y.json', 'shard-[0-2].bin']);
    assert.ok(m('data/train-00000-of-00014.parquet'));
    assert.ok(!m('data/test-00000-of-00014.parquet'));
    assert.ok(!m('data/train-x/sub.parquet'), '* stays within one folder');
    assert.ok(!m('other/data/train-0.parquet'), 'anchored at the repo root');
    assert.ok(m('conv1.jsonl') && !m('conv12.jsonl'));
    assert.ok(m('x/y.json') && m('x/a/b/y.json'));
    assert.ok(m('shard-2.bin') && !m('shard-3.bin'));
    assert.ok(matchGlob(['a.b'])('a.b') && !matchGlob(['a.b'])('axb'), 'dots are literal');
  });
});
