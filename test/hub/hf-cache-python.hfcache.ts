// `make test-hf-cache`: the cache `pull` fills, read and shared by the real Python
// huggingface_hub (from .venv-hf). Fails, never skips, without that Python.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../../src/core/hash.js';
import { cacheLayout } from '../../src/hub/cache-layout.js';
import { ROOT, runCliAsync, tempDir } from '../helpers.js';
import { startHubServer, type HubServer } from '../servers/hub-server.js';
import { noiseBytes } from './noise-bytes.js';

const PYTHON = process.env['USERLM_HF_PYTHON'];
const CLIENT = join(ROOT, 'test', 'python', 'hf_cache_client.py');


const REPO = 'acme/py';
const A = 'data/train-00000-of-00002.parquet';
const B = 'data/train-00001-of-00002.parquet';
const FILES: Record<string, Buffer> = { [A]: noiseBytes(500_000, 21), [B]: noiseBytes(300_000, 22), 'extra/other.parquet': noiseBytes(2000, 23), 'README.md': Buffer.from('# py\n') };

interface Py {
  status: number;
  out: Record<string, unknown>;
  stderr: string;
}

function python(args: string[], env: Record<string, string>, o: { stdin?: (w: NodeJS.WritableStream, out: NodeJS.ReadableStream) => void } = {}): Promise<Py> {
  assert.ok(PYTHON, 'USERLM_HF_PYTHON must name the venv python (make test-hf-cache sets it)');
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [CLIENT, ...args], { env: { PATH: process.env['PATH'] ?? '', HF_HUB_DISABLE_TELEMETRY: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    o.stdin?.(child.stdin, child.stdout);
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let out: Record<string, unknown> = {};
      try {
        out = JSON.parse(last) as Record<string, unknown>;
      } catch {
        out = { raw: stdout };
      }
      resolve({ status: code ?? -1, out, stderr });
    });
  });
}

describe('the cache pull fills, with the real huggingface_hub', () => {
  let hub: HubServer;
  let sha: string;
  const dir = tempDir('userlm-hf-py-');
  const pipelineFor = (name: string, files = '["data/*.parquet"]') => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `name: ${name}\nseed: 1\nrun_dir: ${join(dir, 'runs', name)}\nout_dir: ${join(dir, 'out', name)}\nsources:\n  - name: chats\n    type: wildchat\n    hub: { repo: ${REPO}, revision: ${sha}, files: ${files} }\n    license: cc0-1.0\n`);
    return file;
  };
  const nodeEnv = (cache: string) => ({ HF_HOME: join(dir, 'hf-home'), HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_TOKEN: undefined, HUGGING_FACE_HUB_TOKEN: undefined, HF_TOKEN_PATH: undefined, HF_HUB_OFFLINE: undefined });
  const pyEnv = (cache: string, offline: boolean) => ({ HF_HOME: join(dir, 'hf-home'), HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: offline ? '1' : '0' });
  const contentGets = (mark: number, path: string) =>
    hub.requests.slice(mark).filter((q) => q.method === 'GET' && q.path.endsWith(`/resolve/${sha}/${path}`) && q.range !== 'bytes=0-0').length;

  before(async () => {
    hub = await startHubServer();
    sha = hub.addRepo({ name: REPO, files: FILES });
  });
  after(() => hub.close());

  it('Python reads a pulled commit offline, knows it is partial, and lists the commit exactly as pull recorded it', async () => {
    const cache = join(dir, 'cache-offline');
    const r = await runCliAsync(['pull', pipelineFor('offline')], nodeEnv(cache));
    assert.equal(r.status, 0, r.stderr);
    const snap = await python(['snapshot', REPO, sha, 'data/*.parquet'], pyEnv(cache, true));
    assert.equal(snap.status, 0, JSON.stringify(snap.out) + snap.stderr);
    assert.equal(snap.out['version'], '1.33.0');
    assert.deepEqual(snap.out['files'], { [A]: FILES[A]!.length, [B]: FILES[B]!.length });
    const local = await python(['snapshot-local-only', REPO, sha, 'data/*.parquet'], pyEnv(cache, true));
    assert.equal(local.status, 0, JSON.stringify(local.out));
    // The listing is the whole commit: asked for everything offline, Python names what was not pulled.
    const all = await python(['snapshot-local-only', REPO, sha], pyEnv(cache, true));
    assert.equal(all.status, 1);
    assert.equal(all.out['type'], 'IncompleteSnapshotError', JSON.stringify(all.out));
    assert.match(String(all.out['error']), /3 file\(s\) are missing \(\.gitattributes, README\.md, extra\/other\.parquet\)/);

    // Python's own listing of the commit, written by an online snapshot_download: the same bytes.
    const pyCache = join(dir, 'cache-python');
    const online = await python(['snapshot', REPO, sha, 'README.md'], pyEnv(pyCache, false));
    assert.equal(online.status, 0, JSON.stringify(online.out) + online.stderr);
    const tree = (c: string) => readFileSync(cacheLayout(c, 'dataset', REPO).tree(sha), 'utf8');
    assert.equal(tree(cache), tree(pyCache));
  });

  it('pull waits while Python holds the blob lock, and writes nothing of that blob until it lets go', async () => {
    const cache = join(dir, 'cache-py-holds');
    const layout = cacheLayout(cache, 'dataset', REPO);
    const etag = sha256Hex(FILES[A]!);
    let release: () => void = () => {};
    let held: () => void = () => {};
    const isHeld = new Promise<void>((r) => (held = r));
    const holder = python(['hold-lock', layout.lock(etag)], pyEnv(cache, true), {
      stdin: (w, out) => {
        out.once('data', () => held());
        release = () => w.end('\n');
      },
    });
    await isHeld;
    const pulling = runCliAsync(['pull', pipelineFor('py-holds')], nodeEnv(cache));
    // Bounded wait for the other file, which is not locked, to arrive.
    for (let i = 0; i < 500 && !existsSync(layout.snapshot(sha, B)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(existsSync(layout.snapshot(sha, B)), 'the unlocked file went ahead');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!existsSync(layout.incomplete(etag)) && !existsSync(layout.blob(etag)), 'nothing written while Python holds the lock');
    release();
    assert.equal((await holder).status, 0);
    const r = await pulling;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /is being downloaded by another process/);
    assert.deepEqual(readFileSync(layout.snapshot(sha, A)), FILES[A]);
  });

  it('pull and Python downloading the same blob at once: both succeed, the Hub sends it once', async () => {
    const cache = join(dir, 'cache-race');
    hub.faults.throttle = { chunkBytes: 16_384, delayMs: 40 };
    const mark = hub.requests.length;
    try {
      const pulling = runCliAsync(['pull', pipelineFor('race', `["${A}"]`)], nodeEnv(cache));
      // Start Python once pull is streaming the blob, so that pull holds the lock.
      for (let i = 0; i < 500 && contentGets(mark, A) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      const py = await python(['download', REPO, sha, A], pyEnv(cache, false));
      const r = await pulling;
      assert.equal(r.status, 0, r.stderr);
      assert.equal(py.status, 0, JSON.stringify(py.out) + py.stderr);
      assert.equal(py.out['size'], FILES[A]!.length);
    } finally {
      hub.faults.throttle = undefined;
    }
    assert.equal(contentGets(mark, A), 1, 'Python waited on the lock and found the blob done');
    assert.deepEqual(readFileSync(cacheLayout(cache, 'dataset', REPO).snapshot(sha, A)), FILES[A]);
  });

  it("a partial file of pull's that Python then supersedes is removed by the next pull", async () => {
    const cache = join(dir, 'cache-superseded');
    const layout = cacheLayout(cache, 'dataset', REPO);
    hub.faults.dropDownloads.push({ path: A, afterBytes: 60_000, times: 1 });
    const cut = await runCliAsync(['pull', '--attempts', '1', pipelineFor('sup', `["${A}"]`)], nodeEnv(cache));
    assert.equal(cut.status, 5, cut.stderr);
    const py = await python(['download', REPO, sha, A], pyEnv(cache, false));
    assert.equal(py.status, 0, JSON.stringify(py.out) + py.stderr);
    const before = await python(['scan'], pyEnv(cache, true));
    assert.deepEqual(before.out['incomplete'], [`${sha256Hex(FILES[A]!)}.incomplete`], 'Python did not resume it; it is an orphan');
    const r = await runCliAsync(['pull', pipelineFor('sup', `["${A}"]`)], nodeEnv(cache));
    assert.equal(r.status, 0, r.stderr);
    const afterScan = await python(['scan'], pyEnv(cache, true));
    assert.deepEqual(afterScan.out['incomplete'], []);
    assert.deepEqual(afterScan.out['repos'], [REPO]);
    assert.deepEqual(readFileSync(layout.snapshot(sha, A)), FILES[A]);
  });
});
