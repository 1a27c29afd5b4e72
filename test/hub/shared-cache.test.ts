// The Hugging Face cache shared with other processes: two pulls at once, a listing that
// offline checks can trust, and partial files that another tool made obsolete.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/hash.js';
import { cacheLayout } from '../../src/hub/cache-layout.js';
import { runCliAsync, tempDir } from '../helpers.js';
import { startHubServer, type HubServer } from '../servers/hub-server.js';
import { noiseBytes } from './noise-bytes.js';


/** The name a blob must have for its bytes: sha256 (LFS) or git's blob id. */
function blobNameOk(name: string, content: Buffer): boolean {
  if (/^[0-9a-f]{64}$/.test(name)) return sha256Hex(content) === name;
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex') === name;
}

const REPO = 'acme/shared';
const FILES: Record<string, Buffer> = {
  'data/train-00000-of-00002.parquet': noiseBytes(600_000, 11),
  'data/train-00001-of-00002.parquet': noiseBytes(450_000, 12),
  'extra/not-pulled.parquet': noiseBytes(1000, 13),
  'README.md': Buffer.from('# shared\n'),
};

describe('the shared Hugging Face cache', () => {
  let hub: HubServer;
  let sha: string;
  const dir = tempDir('userlm-shared-cache-');
  const pipelineFor = (name: string, revision: string) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `name: ${name}
seed: 1
run_dir: ${join(dir, 'runs', name)}
out_dir: ${join(dir, 'out', name)}
sources:
  - name: chats
    type: wildchat
    hub: { repo: ${REPO}, revision: ${revision}, files: ["data/*.parquet"] }
    license: cc0-1.0
`,
    );
    return file;
  };
  const env = (cache: string) => ({
    HF_HOME: join(dir, 'hf-home'),
    HF_HUB_CACHE: cache,
    HF_ENDPOINT: hub.url,
    HF_TOKEN: undefined,
    HUGGING_FACE_HUB_TOKEN: undefined,
    HF_TOKEN_PATH: undefined,
    HF_HUB_OFFLINE: undefined,
  });

  before(async () => {
    hub = await startHubServer();
    sha = hub.addRepo({ name: REPO, files: FILES });
  });
  after(() => hub.close());

  it('two pulls at once on one cache both succeed, download each blob once, and never show a broken blob', async () => {
    const cache = join(dir, 'cache-concurrent');
    const layout = cacheLayout(cache, 'dataset', REPO);
    hub.faults.throttle = { chunkBytes: 16_384, delayMs: 40 };
    const mark = hub.requests.length;
    const a = pipelineFor('a', sha);
    const b = pipelineFor('b', sha);
    let done = false;
    const broken: string[] = [];
    let checks = 0;
    const watch = (async () => {
      // Until both pulls end (about a second; ten under a loaded machine, where a bound of
      // 2,000 rounds ran out before the first blob landed), bounded by the test's own clock.
      const started = performance.now();
      while (!done && performance.now() - started < 120_000) {
        const blobs = join(layout.repoDir, 'blobs');
        for (const name of existsSync(blobs) ? readdirSync(blobs) : []) {
          if (name.endsWith('.incomplete')) continue;
          let content: Buffer;
          try {
            content = readFileSync(join(blobs, name));
          } catch {
            continue;
          }
          checks++;
          if (!blobNameOk(name, content)) broken.push(`${name} (${content.length} bytes)`);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    try {
      const [ra, rb] = await Promise.all([runCliAsync(['pull', a], env(cache)), runCliAsync(['pull', b], env(cache))]);
      done = true;
      await watch;
      assert.equal(ra.status, 0, ra.stderr);
      assert.equal(rb.status, 0, rb.stderr);
      assert.match(ra.stderr + rb.stderr, /being downloaded by another process .*waiting for .*\.locks\/datasets--acme--shared\/[0-9a-f]{64}\.lock/);
    } finally {
      hub.faults.throttle = undefined;
      done = true;
    }
    assert.deepEqual(broken, [], 'a blob under its final name with the wrong bytes');
    assert.ok(checks > 0, 'the watcher saw blobs');
    for (const p of ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']) {
      assert.deepEqual(readFileSync(layout.snapshot(sha, p)), FILES[p]);
      const gets = hub.requests.slice(mark).filter((q) => q.method === 'GET' && q.path.endsWith(`/resolve/${sha}/${p}`) && q.range !== 'bytes=0-0');
      assert.equal(gets.length, 1, `${p} was downloaded ${gets.length} times`);
      // The lock files are huggingface_hub's: kept, group-writable.
      assert.equal(statSync(layout.lock(sha256Hex(FILES[p]!))).mode & 0o777, 0o664);
    }
    assert.deepEqual(readdirSync(join(layout.repoDir, 'blobs')).filter((f) => f.endsWith('.incomplete')), []);
  });

  it("pull records the commit's whole listing in trees/<commit>.json, in huggingface_hub's format", async () => {
    const cache = join(dir, 'cache-tree');
    const r = await runCliAsync(['pull', pipelineFor('tree', sha)], env(cache));
    assert.equal(r.status, 0, r.stderr);
    const layout = cacheLayout(cache, 'dataset', REPO);
    const text = readFileSync(layout.tree(sha), 'utf8');
    const listing = JSON.parse(text) as { format_version: number; files: Record<string, Record<string, unknown>> };
    assert.equal(listing.format_version, 1);
    const stored = hub.filesAt('dataset', REPO, sha)!;
    // Every file of the commit, not only the ones pulled: Python takes this as the commit's contents.
    assert.deepEqual(Object.keys(listing.files), [...stored.keys()].sort());
    for (const [p, f] of stored) {
      assert.deepEqual(listing.files[p], f.lfs ? { size: f.size, blob_id: f.oid, lfs_sha256: f.sha256, lfs_size: f.size } : { size: f.size, blob_id: f.oid }, p);
    }
    // json.dump(indent=1): one space per level, ": " between key and value.
    assert.ok(text.startsWith('{\n "format_version": 1,\n "files": {\n  ".gitattributes": {\n   "size": '), text.slice(0, 120));
  });

  it('pull --offline without a receipt checks the cache against the listing: a blob cut to 1,000 bytes fails', async () => {
    const cache = join(dir, 'cache-cut');
    const first = await runCliAsync(['pull', pipelineFor('cut-a', sha)], env(cache));
    assert.equal(first.status, 0, first.stderr);
    const path = 'data/train-00000-of-00002.parquet';
    truncateSync(cacheLayout(cache, 'dataset', REPO).blob(sha256Hex(FILES[path]!)), 1000);
    // Another run directory: no receipt, so only what the cache itself records can tell.
    const r = await runCliAsync(['pull', '--offline', pipelineFor('cut-b', sha)], { ...env(cache), HF_ENDPOINT: 'http://127.0.0.1:9' });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`1 of 2 file\\(s\\) missing: ${path.replace(/\./g, '\\.')} \\(1000 of 600000 bytes\\)`));
    assert.doesNotMatch(r.stderr, /pull\.unverified|completeness cannot be checked/);
  });

  it('drops the partial file of a blob that another tool finished, and a killed Python download\'s', async () => {
    const cache = join(dir, 'cache-superseded');
    const layout = cacheLayout(cache, 'dataset', REPO);
    const path = 'data/train-00001-of-00002.parquet';
    const etag = sha256Hex(FILES[path]!);
    hub.faults.dropDownloads.push({ path, afterBytes: 50_000, times: 1 });
    const cut = await runCliAsync(['pull', '--attempts', '1', pipelineFor('sup', sha)], env(cache));
    assert.equal(cut.status, 5, cut.stderr);
    assert.ok(existsSync(layout.incomplete(etag)));
    // What huggingface_hub leaves when it completes the blob itself (its own temp name, then
    // the blob and a relative snapshot link), plus the temp file of one of its downloads that was killed.
    writeFileSync(layout.blob(etag), FILES[path]!);
    const pointer = layout.snapshot(sha, path);
    mkdirSync(dirname(pointer), { recursive: true });
    symlinkSync(relative(dirname(pointer), layout.blob(etag)), pointer);
    const pythonTemp = `${layout.blob(etag)}.0a1b2c3d.incomplete`;
    writeFileSync(pythonTemp, FILES[path]!.subarray(0, 999));
    const other = join(layout.repoDir, 'blobs', `${'f'.repeat(64)}.incomplete`);
    writeFileSync(other, 'another blob in progress');

    const r = await runCliAsync(['pull', pipelineFor('sup', sha)], env(cache));
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(layout.incomplete(etag)), 'our superseded partial file is gone');
    assert.ok(!existsSync(pythonTemp), "the killed download's partial file is gone");
    assert.ok(existsSync(other), "another blob's partial file is left alone");
    assert.deepEqual(readFileSync(pointer), FILES[path]);
  });

  it('waits while another process holds the blob lock, and writes nothing until it is released', async () => {
    const cache = join(dir, 'cache-held');
    const layout = cacheLayout(cache, 'dataset', REPO);
    const path = 'data/train-00000-of-00002.parquet';
    const etag = sha256Hex(FILES[path]!);
    mkdirSync(dirname(layout.lock(etag)), { recursive: true });
    // A holder that is not this tool: util-linux flock(1) keeps the lock while its command runs.
    const holder = spawn('flock', ['-x', layout.lock(etag), 'sh', '-c', 'echo held; read line'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const pulling = runCliAsync(['pull', pipelineFor('held', sha)], env(cache));
    try {
      // Bounded by time, not by a count of short sleeps: on a loaded machine the CLI alone
      // can take seconds to start.
      const deadline = Date.now() + 120_000;
      let waited = false;
      while (!waited && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        waited = existsSync(layout.snapshot(sha, 'data/train-00001-of-00002.parquet'));
      }
      assert.ok(waited, 'the other file went ahead');
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!existsSync(layout.incomplete(etag)) && !existsSync(layout.blob(etag)), 'nothing written for the locked blob');
    } finally {
      // Release the lock whatever happened, or the pull (and this test file) never ends.
      holder.stdin!.end('go\n');
    }
    const r = await pulling;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /data\/train-00000-of-00002\.parquet is being downloaded by another process/);
    assert.deepEqual(readFileSync(layout.snapshot(sha, path)), FILES[path]);
  });
});
