import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RetryableError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { cacheLayout } from '../../src/hub/cache-layout.js';
import { hubSourceFiles } from '../../src/hub/hub-source-files.js';
import { pullSource } from '../../src/hub/pull-source.js';
import { sha256Hex } from '../../src/core/hash.js';
import { tempDir } from '../helpers.js';
import { startHubServer, type HubServer } from '../servers/hub-server.js';
import { noiseBytes } from './noise-bytes.js';

const noSleep = async () => {};


describe('pullSource against a local Hub', () => {
  let hub: HubServer;
  let sha: string;
  const files: Record<string, Buffer> = {
    'data/train-00000-of-00002.parquet': noiseBytes(300_000, 1),
    'data/train-00001-of-00002.parquet': noiseBytes(200_000, 2),
    'data/other.parquet': noiseBytes(10, 3),
    'README.md': Buffer.from('# a card\n'),
  };

  before(async () => {
    // A small page size makes the client follow the tree listing's Link header.
    hub = await startHubServer({ pageSize: 2 });
    sha = hub.addRepo({ name: 'acme/chats', files });
  });
  after(() => hub.close());

  const opts = (cacheDir: string, runDir: string) => ({ runDir, cacheDir, endpoint: hub.url, log: silentLogger, sleep: noSleep });

  it('lays files out as huggingface_hub does: blobs by hash, relative snapshot links, refs for a branch', async () => {
    const cache = tempDir();
    const run = tempDir();
    const r = await pullSource('chats', { repo: 'acme/chats', repo_type: 'dataset', revision: 'main', files: ['data/train-*.parquet', 'README.md'] }, opts(cache, run));
    assert.equal(r.sha, sha);
    assert.equal(r.files, 3);
    assert.equal(r.downloaded, 3);
    const layout = cacheLayout(cache, 'dataset', 'acme/chats');
    assert.equal(layout.repoDir, join(cache, 'datasets--acme--chats'));
    assert.equal(readFileSync(layout.ref('main'), 'utf8'), sha);
    const snap = readdirSync(layout.snapshot(sha), { recursive: true }).map(String).sort();
    assert.deepEqual(snap, ['README.md', 'data', 'data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
    for (const p of ['data/train-00000-of-00002.parquet', 'README.md']) {
      const link = layout.snapshot(sha, p);
      assert.ok(lstatSync(link).isSymbolicLink());
      assert.ok(!readlinkSync(link).startsWith('/'), 'relative link');
      const target = resolve(dirname(link), readlinkSync(link));
      assert.deepEqual(readFileSync(link), files[p]);
      // LFS files are named by sha256, regular files by git's blob id (as the Hub's etag).
      const name = target.split('/').pop()!;
      if (p.endsWith('.parquet')) assert.equal(name, sha256Hex(files[p]!));
      else assert.match(name, /^[0-9a-f]{40}$/);
    }
    assert.ok(!existsSync(layout.snapshot(sha, 'data/other.parquet')), 'only the files the globs name');
    assert.ok(!readdirSync(join(layout.repoDir, 'blobs')).some((f) => f.endsWith('.incomplete')));

    const before = hub.requests.length;
    const again = await pullSource('chats', { repo: 'acme/chats', repo_type: 'dataset', revision: 'main', files: ['data/train-*.parquet', 'README.md'] }, opts(cache, run));
    assert.equal(again.cached, 3);
    assert.equal(hub.requests.slice(before).filter((q) => q.path.includes('/resolve/')).length, 0, 'nothing downloaded twice');

    const local = await hubSourceFiles('chats', { repo: 'acme/chats', repo_type: 'dataset', revision: 'main', files: ['data/train-*.parquet', 'README.md'] }, { runDir: run, cacheDir: cache });
    assert.equal(local.listedBy, 'hub');
    assert.deepEqual(local.missing, []);
    assert.deepEqual(local.files.map((f) => f.repoPath), ['README.md', 'data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
  });

  it('resumes a dropped download with a Range request and verifies the result', async () => {
    const cache = tempDir();
    const path = 'data/train-00000-of-00002.parquet';
    hub.faults.dropDownloads.push({ path, afterBytes: 100_000, times: 1 });
    const before = hub.requests.length;
    const r = await pullSource('chats', { repo: 'acme/chats', repo_type: 'dataset', revision: sha, files: [path] }, opts(cache, tempDir()));
    assert.equal(r.downloaded, 1);
    const gets = hub.requests.slice(before).filter((q) => q.path.endsWith(path) && q.range !== 'bytes=0-0');
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.equal(gets[0]!.range, undefined);
    // The resume point is what reached the disk before the cut: all 100,000 bytes sent, or
    // fewer when the machine is loaded and the cut overtakes the last chunks in flight.
    const m = /^bytes=(\d+)-(\d+)$/.exec(gets[1]!.range ?? '');
    assert.ok(m, `a Range request, got ${gets[1]!.range}`);
    assert.ok(Number(m[1]) > 0 && Number(m[1]) <= 100_000, `resumed at ${m[1]}`);
    assert.equal(Number(m[2]), files[path]!.length - 1);
    assert.equal(gets[1]!.status, 206);
    assert.deepEqual(readFileSync(cacheLayout(cache, 'dataset', 'acme/chats').snapshot(sha, path)), files[path]);
    // A pinned sha needs no ref.
    assert.ok(!existsSync(join(cache, 'datasets--acme--chats', 'refs')));
  });

  it('keeps the partial bytes when it gives up, and a later pull continues from them', async () => {
    const cache = tempDir();
    const path = 'data/train-00001-of-00002.parquet';
    const etag = sha256Hex(files[path]!);
    const incomplete = cacheLayout(cache, 'dataset', 'acme/chats').incomplete(etag);
    hub.faults.dropDownloads.push({ path, afterBytes: 64_000, times: 2 });
    const src = { repo: 'acme/chats', repo_type: 'dataset' as const, revision: sha, files: [path] };
    await assert.rejects(pullSource('chats', src, { ...opts(cache, tempDir()), attempts: 2 }), (e: unknown) => {
      assert.ok(e instanceof RetryableError, String(e));
      assert.match(e.message, /rerun `userlm-data pull` to resume/);
      return true;
    });
    // Two cut attempts of up to 64,000 bytes each, appended (fewer when a cut overtakes bytes in flight).
    const partial = readFileSync(incomplete).length;
    assert.ok(partial > 64_000 / 2 && partial <= 128_000, `partial file of ${partial} bytes`);
    assert.ok(!existsSync(cacheLayout(cache, 'dataset', 'acme/chats').snapshot(sha, path)), 'no snapshot link for a partial file');
    const before = hub.requests.length;
    await pullSource('chats', src, opts(cache, tempDir()));
    const ranged = hub.requests.slice(before).filter((q) => q.path.endsWith(path) && q.range && q.range !== 'bytes=0-0');
    assert.deepEqual(ranged.map((q) => q.range), [`bytes=${partial}-${files[path]!.length - 1}`]);
    assert.deepEqual(readFileSync(cacheLayout(cache, 'dataset', 'acme/chats').snapshot(sha, path)), files[path]);
    assert.ok(!existsSync(incomplete));
  });

  it('discards a partial file whose bytes are wrong instead of completing it', async () => {
    const cache = tempDir();
    const path = 'data/train-00001-of-00002.parquet';
    const incomplete = cacheLayout(cache, 'dataset', 'acme/chats').incomplete(sha256Hex(files[path]!));
    await import('node:fs').then((fs) => fs.mkdirSync(dirname(incomplete), { recursive: true }));
    writeFileSync(incomplete, Buffer.alloc(5000, 7));
    await pullSource('chats', { repo: 'acme/chats', repo_type: 'dataset', revision: sha, files: [path] }, opts(cache, tempDir()));
    assert.deepEqual(readFileSync(cacheLayout(cache, 'dataset', 'acme/chats').snapshot(sha, path)), files[path]);
  });
});
