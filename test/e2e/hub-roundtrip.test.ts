import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listFiles } from '@huggingface/hub';
import { OUT_MARKER } from '../../src/stages/shards/export-dataset.js';
import { sha256Hex } from '../../src/core/hash.js';
import { fileIdentity } from '../../src/hub/file-identity.js';
import { runCliAsync, SAMPLE_PRISM, SAMPLE_WILDCHAT, tempDir } from '../helpers.js';
import { startHubServer, type HubServer } from '../servers/hub-server.js';

const READER = 'hf_reader_accepted_the_terms';
const STRANGER = 'hf_stranger_without_access';
const WILDCHAT_FILE = 'data/train-00000-of-00001.parquet';

/** Every file under dir, relative, with its sha256 (but out_dir's ownership marker, which is not published). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    if (rel === OUT_MARKER) continue;
    const abs = join(dir, rel);
    try {
      out[rel] = sha256Hex(readFileSync(abs));
    } catch {
      // directories
    }
  }
  return out;
}

describe('Hub round trip through the CLI: pull -> run -> publish', () => {
  let hub: HubServer;
  let wildchatSha: string;
  let prismSha: string;
  const dir = tempDir('userlm-hub-');
  const cache = join(dir, 'hf-cache');
  const out = join(dir, 'out');
  const pipeline = join(dir, 'pipeline.yaml');
  const env = (token?: string, endpoint?: string) => ({
    HF_HOME: join(dir, 'hf-home'),
    HF_HUB_CACHE: cache,
    HF_ENDPOINT: endpoint ?? hub.url,
    HF_TOKEN: token,
    HUGGING_FACE_HUB_TOKEN: undefined,
    HF_TOKEN_PATH: undefined,
    HF_HUB_OFFLINE: undefined,
  });

  before(async () => {
    hub = await startHubServer();
    wildchatSha = hub.addRepo({ name: 'allenai/WildChat-1M', gated: true, files: { [WILDCHAT_FILE]: readFileSync(SAMPLE_WILDCHAT), 'README.md': '# WildChat\n' } });
    prismSha = hub.addRepo({ name: 'HannahRoseKirk/prism-alignment', files: { 'conversations.jsonl': readFileSync(SAMPLE_PRISM), 'survey.jsonl': '{}\n' } });
    hub.addToken(READER, 'me', ['allenai/WildChat-1M']);
    hub.addToken(STRANGER, 'stranger');
    writeFileSync(
      pipeline,
      `name: hub-sample
seed: 20251122
run_dir: ${join(dir, 'runs')}
out_dir: ${out}
sources:
  - name: wildchat
    type: wildchat
    hub: { repo: allenai/WildChat-1M, revision: ${wildchatSha}, files: ["data/train-*.parquet"] }
    license: cc0-1.0
  - name: prism
    type: prism
    hub: { repo: HannahRoseKirk/prism-alignment, revision: ${prismSha}, files: [conversations.jsonl] }
    split: test_ood
    license: cc0-1.0
`,
    );
  });
  after(() => hub.close());

  it('a gated source without a token: non-zero exit, says to set HF_TOKEN and accept the terms, cache untouched', async () => {
    const r = await runCliAsync(['pull', pipeline], env(undefined));
    assert.equal(r.status, 6, r.stderr);
    assert.match(r.stderr, /allenai\/WildChat-1M .*gated/);
    assert.match(r.stderr, new RegExp(`Accept its terms on ${hub.url}/datasets/allenai/WildChat-1M`));
    assert.match(r.stderr, /export HF_TOKEN=hf_/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(tree(cache), {}, 'nothing written to the cache');
  });

  it('a token whose account has not accepted the terms: non-zero exit, cache untouched, token not printed', async () => {
    const r = await runCliAsync(['pull', pipeline], env(STRANGER));
    assert.equal(r.status, 6, r.stderr);
    assert.match(r.stderr, /account of HF_TOKEN has no access yet\. Accept the dataset's terms on http:\/\/127\.0\.0\.1:\d+\/datasets\/allenai\/WildChat-1M/);
    assert.ok(!r.stderr.includes(STRANGER) && !r.stdout.includes(STRANGER));
    assert.deepEqual(tree(cache), {});
  });

  it('--offline names what the cache lacks', async () => {
    const r = await runCliAsync(['pull', '--offline', pipeline], env(READER));
    assert.equal(r.status, 3, r.stderr);
    // The listing of the gated repo was recorded (listings are public), so the file is named exactly.
    assert.match(r.stderr, /sources\[0\] \(wildchat\): allenai\/WildChat-1M@\w+: 1 of 1 file\(s\) missing: data\/train-00000-of-00001\.parquet/);
    assert.match(r.stderr, /sources\[1\] \(prism\): HannahRoseKirk\/prism-alignment@\w+: nothing in the cache matches conversations\.jsonl/);
    assert.match(r.stderr, /Run `userlm-data pull .*pipeline\.yaml` where the Hub is reachable/);
  });

  it('an interrupted pull exits non-zero, keeps the bytes, and the next pull resumes with a Range request', async () => {
    hub.faults.dropDownloads.push({ path: WILDCHAT_FILE, afterBytes: 40_000, times: 1 });
    const first = await runCliAsync(['pull', '--attempts', '1', pipeline], env(READER));
    assert.equal(first.status, 5, first.stderr);
    assert.match(first.stderr, /bytes so far are kept in .*\.incomplete; rerun `userlm-data pull` to resume/);
    assert.ok(!first.stderr.includes(READER));
    const partial = Object.keys(tree(cache)).filter((p) => p.endsWith('.incomplete'));
    assert.equal(partial.length, 1);

    const mark = hub.requests.length;
    const second = await runCliAsync(['pull', pipeline], env(READER));
    assert.equal(second.status, 0, second.stderr);
    const size = readFileSync(SAMPLE_WILDCHAT).length;
    const ranged = hub.requests.slice(mark).filter((q) => q.path.endsWith(WILDCHAT_FILE) && q.range !== 'bytes=0-0');
    assert.deepEqual(ranged.map((q) => q.range), [`bytes=40000-${size - 1}`]);
    const snap = join(cache, 'datasets--allenai--WildChat-1M', 'snapshots', wildchatSha, WILDCHAT_FILE);
    assert.equal(sha256Hex(readFileSync(snap)), sha256Hex(readFileSync(SAMPLE_WILDCHAT)));
    assert.ok(!Object.keys(tree(cache)).some((p) => p.endsWith('.incomplete')));
    assert.ok(!existsSync(join(cache, 'datasets--HannahRoseKirk--prism-alignment', 'snapshots', prismSha, 'survey.jsonl')), 'only what hub.files names');
  });

  it('run reads the pulled snapshot without the network and records the resolved commits', async () => {
    // A dead endpoint: the recorded listing and the cache must be enough.
    const r = await runCliAsync(['run', pipeline], env(READER, 'http://127.0.0.1:9'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /all 1 file\(s\) in the cache/);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(m.sources.map((s: { hub: unknown }) => s.hub), [
      { repo: 'allenai/WildChat-1M', repo_type: 'dataset', revision: wildchatSha, sha: wildchatSha },
      { repo: 'HannahRoseKirk/prism-alignment', repo_type: 'dataset', revision: prismSha, sha: prismSha },
    ]);
    assert.deepEqual(m.sources[0].files.map((f: { path: string }) => f.path), [WILDCHAT_FILE], 'repo paths, not cache paths');
    assert.equal(m.sources[0].files[0].sha256, sha256Hex(readFileSync(SAMPLE_WILDCHAT)));
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    assert.ok(card.includes(wildchatSha) && card.includes(prismSha), 'card names the resolved commits');
  });

  it('publish without a token says how to get one', async () => {
    const r = await runCliAsync(['publish', out, '--repo', 'me/userlm-sample'], env(undefined));
    assert.equal(r.status, 6);
    assert.match(r.stderr, /publishing needs a Hugging Face token with write access to me\/userlm-sample.*export HF_TOKEN=hf_/);
  });

  it('an interrupted publish rerun uploads only the missing files; the Hub then holds exactly the local files', async () => {
    // The run report stays local: it quotes dropped (toxic, redacted) conversations.
    const local = tree(out);
    assert.ok(local['report.html']);
    delete local['report.html'];
    assert.equal(Object.keys(local).length, 8, Object.keys(local).join(', '));
    // 8 files (4 shards, 2 card charts, manifest, card), 2 per commit: the second commit fails.
    hub.faults.failCommits = { after: 1, times: 1 };
    let mark = hub.requests.length;
    const first = await runCliAsync(['publish', out, '--repo', 'me/userlm-sample', '--files-per-commit', '2'], env(READER));
    assert.equal(first.status, 5, first.stderr);
    assert.match(first.stderr, /commit 2 of 4.*the Hub answered 500.*rerun the same command: files already on the Hub with the same sha256 are skipped/);
    const firstCommits = hub.requests.slice(mark).filter((q) => q.path.includes('/commit/'));
    assert.deepEqual(firstCommits.map((q) => q.status), [200, 500]);
    const committedFirst = firstCommits[0]!.committed!;
    assert.equal(committedFirst.length, 2);

    mark = hub.requests.length;
    const second = await runCliAsync(['publish', out, '--repo', 'me/userlm-sample', '--files-per-commit', '2'], env(READER));
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout.trim(), `${hub.url}/datasets/me/userlm-sample`);
    const reqs = hub.requests.slice(mark);
    const committedSecond = reqs.filter((q) => q.path.includes('/commit/')).flatMap((q) => q.committed ?? []);
    assert.deepEqual(committedSecond.sort(), Object.keys(local).filter((p) => !committedFirst.includes(p)).sort(), 'only the missing files');
    const putShas = reqs.filter((q) => q.method === 'PUT').map((q) => q.path.split('/').pop());
    for (const p of committedFirst) assert.ok(!putShas.includes(local[p]), `${p} was not uploaded again`);
    assert.ok(reqs.some((q) => q.path === '/api/repos/create' && q.status === 409), 'the repo existed the second time');

    // What the Hub lists, through the real client, equals what is on disk.
    const listed = new Map<string, { oid: string; lfs?: { oid: string } }>();
    for await (const e of listFiles({ repo: { type: 'dataset', name: 'me/userlm-sample' }, recursive: true, hubUrl: hub.url, accessToken: READER })) {
      if (e.type === 'file') listed.set(e.path, { oid: e.oid!, lfs: e.lfs });
    }
    assert.deepEqual([...listed.keys()].filter((p) => p !== '.gitattributes').sort(), Object.keys(local).sort());
    for (const [p, sha] of Object.entries(local)) {
      const id = await fileIdentity(join(out, p));
      const e = listed.get(p)!;
      if (e.lfs) assert.equal(e.lfs.oid, sha, p);
      else assert.equal(e.oid, id.gitOid, p);
      assert.equal(sha256Hex(hub.readFile('dataset', 'me/userlm-sample', 'main', p)!), sha, p);
    }
    assert.ok(listed.get('data/train-00000-of-00001.parquet')?.lfs, 'shards are stored as LFS');

    mark = hub.requests.length;
    const third = await runCliAsync(['publish', out, '--repo', 'me/userlm-sample'], env(READER));
    assert.equal(third.status, 0, third.stderr);
    assert.match(third.stderr, /nothing to upload: all 8 file\(s\) are already there/);
    assert.equal(hub.requests.slice(mark).filter((q) => q.path.includes('/commit/') || q.method === 'PUT').length, 0);
  });

  it('--pr opens one pull request and puts every later commit on it; main is untouched', async () => {
    const before = hub.filesAt('dataset', 'me/userlm-sample', 'main')!;
    // A fresh repo so that all 8 files need uploading: 4 commits onto one PR.
    const r = await runCliAsync(['publish', out, '--repo', 'me/userlm-pr', '--pr', '--files-per-commit', '2', '--private'], env(READER));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${hub.url}/datasets/me/userlm-pr/discussions/1`);
    assert.deepEqual([...hub.filesAt('dataset', 'me/userlm-pr', 'main')!.keys()], ['.gitattributes']);
    assert.deepEqual([...hub.filesAt('dataset', 'me/userlm-pr', 'refs/pr/1')!.keys()].filter((p) => p !== '.gitattributes').sort(), Object.keys(tree(out)).filter((p) => p !== 'report.html').sort());
    assert.equal(hub.filesAt('dataset', 'me/userlm-sample', 'main'), before);
  });
});
