// A misbehaving OpenAI-compatible endpoint, driven through the CLI and the real openai client:
// nonsense answers, 400 to everything, 5xx until retries run out, a 600 MB body, and a
// server that echoes the API key. None may empty the dataset, exit with the wrong code, or
// leak the key.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sqlString } from '../../src/core/db.js';
import { readMarker } from '../../src/core/marker.js';
import { stageDir } from '../../src/core/runner.js';
import { intentsStage } from '../../src/stages/intents/intents-stage.js';
import { INTENT_PREFIX } from '../../src/stages/intents/template-intent.js';
import { CLI, ROOT, tempDir, withDb, writePipeline } from '../helpers.js';
import { startOpenAICompatibleServer, type OpenAICompatibleServer, type ServerOptions } from '../servers/openai-compatible-server.js';
import { llmPipelineYaml, writeConversations } from '../llm/llm-fixtures.js';

const SECRET = 'sk-test-ECHOED-BACK-9b2d7a';
const REDACTED = '[redacted OPENAI_API_KEY]';

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_API_KEY: SECRET, NO_COLOR: '1' };
    delete env['OPENAI_BASE_URL'];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const intentsDir = (dir: string) => stageDir(join(dir, 'runs'), intentsStage);

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

function assertNoSecretWritten(dir: string, outputs: string[]): void {
  for (const f of filesUnder(dir)) assert.ok(!readFileSync(f).includes(SECRET), `${f} holds the API key`);
  for (const o of outputs) assert.ok(!o.includes(SECRET), `the key was printed:\n${o}`);
}

async function intentRows(dir: string): Promise<{ intents: string[]; drops: string[] }> {
  return withDb(async (db) => {
    const intents = await db.all<{ intent: string }>(`SELECT intent FROM read_parquet(${sqlString(join(intentsDir(dir), 'data.parquet'))})`);
    const dropsFile = join(intentsDir(dir), 'drops.parquet');
    const drops = existsSync(dropsFile) ? await db.all<{ reason: string }>(`SELECT reason FROM read_parquet(${sqlString(dropsFile)})`) : [];
    return { intents: intents.map((r) => r.intent), drops: drops.map((r) => r.reason) };
  });
}

describe('a misbehaving LLM endpoint', () => {
  const servers: OpenAICompatibleServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });
  const start = async (o: ServerOptions) => {
    const s = await startOpenAICompatibleServer({ lifetimeMs: 600_000, echoKey: true, ...o });
    servers.push(s);
    return s;
  };
  const opts = (url: string, extra: Record<string, unknown> = {}) => ({ backend: 'openai', model: 'gpt-4o', base_url: url, concurrency: 8, backoff_initial_ms: 5, backoff_max_ms: 20, timeout_s: 10, max_invalid_retries: 2, ...extra });

  it('200s that are not intents: exit 5 quoting the answer, the previous dataset kept; once fixed, a rerun asks again instead of replaying the nonsense', async () => {
    const dir = tempDir();
    const server = await start({});
    const corpus = writeConversations(dir, 150);
    const good = writePipeline(dir, llmPipelineYaml(dir, corpus, opts(server.url)), 'a.yaml');
    const first = await runCli(['run', good.file]);
    assert.equal(first.code, 0, first.stderr);
    const manifest = readFileSync(join(dir, 'out', 'manifest.json'));
    const marker = await readMarker(intentsDir(dir));

    // Another model, same server, which now answers nonsense (quoting the key) to everything.
    server.faults.invalidShare = 1;
    const sentBefore = server.stats.chatRequests;
    const other = writePipeline(dir, llmPipelineYaml(dir, corpus, opts(server.url, { model: 'gpt-4o-mini' })), 'b.yaml');
    const broken = await runCli(['run', other.file, '--json']);
    assert.equal(broken.code, 5, broken.stderr);
    assert.match(broken.stderr, /error: stage intents stopped: (\d+) of the last 50 conversations got no usable intent from http:\/\/127\.0\.0\.1:\d+\/v1 \(more than .*b\.yaml stages\.intents\.max_invalid_fraction = 0\.5\); nothing was written \(an earlier dataset is left as it was\)\. Its last answer: "Sure! Here is the intent you asked for/);
    assert.match(broken.stderr, /rerun: valid answers are kept, invalid and refused ones are asked again/);
    assert.ok(broken.stderr.includes(REDACTED), 'the echoed key was quoted, redacted');
    assert.ok(server.stats.chatRequests - sentBefore < 150 * 3, `stopped early (${server.stats.chatRequests - sentBefore} requests)`);
    assert.deepEqual(readFileSync(join(dir, 'out', 'manifest.json')), manifest, 'out_dir untouched');
    assert.equal((await readMarker(intentsDir(dir)))?.execution_id, marker?.execution_id, 'the finished intents stage kept');

    server.faults.invalidShare = 0;
    const fixed = await runCli(['run', other.file]);
    assert.equal(fixed.code, 0, fixed.stderr);
    const { intents, drops } = await intentRows(dir);
    assert.deepEqual(drops, [], 'no cached nonsense replayed as intent_invalid');
    assert.equal(intents.length, 150);
    for (const i of intents) assert.ok(i.startsWith(INTENT_PREFIX), i);
    assertNoSecretWritten(dir, [first.stderr, broken.stderr, broken.stdout, fixed.stderr]);
    assert.ok(readFileSync(join(dir, 'runs', 'cache', 'intents', 'responses.jsonl'), 'utf8').includes(REDACTED), 'the echoed key reached the cache only redacted');
  });

  it('400 to everything, on a corpus smaller than the guard window: exit 5 instead of an empty dataset; once fixed, the refusals are asked again', async () => {
    const dir = tempDir();
    let refuse = true;
    const server = await start({ script: () => (refuse ? 'bad_request' : null) });
    const corpus = writeConversations(dir, 20);
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, opts(server.url)));
    const broken = await runCli(['run', file]);
    assert.equal(broken.code, 5, broken.stderr);
    assert.match(broken.stderr, /stage intents stopped: not one of the 20 conversations http:\S+ answered got a usable intent, so the stage would keep no conversation; .* Its last answer: "HTTP error: HTTP 400: 400 This model's maximum context length is exceeded\. \(you sent the key \[redacted OPENAI_API_KEY\]\)"/);
    assert.ok(!existsSync(intentsDir(dir)) && !existsSync(join(dir, 'out')), 'no empty dataset written');

    refuse = false;
    const fixed = await runCli(['run', file, '--json']);
    assert.equal(fixed.code, 0, fixed.stderr);
    const { intents, drops } = await intentRows(dir);
    assert.deepEqual(drops, [], 'no cached refusal replayed as intent_rejected');
    assert.equal(intents.length, 20);
    const manifest = readFileSync(join(dir, 'out', 'manifest.json'), 'utf8');
    assert.match(manifest, /"intents"/);
    assertNoSecretWritten(dir, [broken.stderr, fixed.stderr, fixed.stdout]);
  });

  it('5xx until retries run out exits 5 (rerun to resume), not 4, with the echoed key redacted', async () => {
    const dir = tempDir();
    const server = await start({ faults: { serverErrorShare: 1 } });
    const corpus = writeConversations(dir, 10);
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, opts(server.url, { max_retries: 1 })));
    const r = await runCli(['run', file]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /error: a request still failed after 1 retries \(last: server_error: 500 The server had an error while processing your request\. \(you sent the key \[redacted OPENAI_API_KEY\]\)\); the endpoint is down or overloaded: rerun later/);
    assertNoSecretWritten(dir, [r.stderr]);
  });

  it('a 600 MB answer is cut off at the cap, not read whole, and counts as a broken answer (exit 5 after the retries)', async () => {
    const dir = tempDir();
    const server = await start({ script: () => 'huge' });
    const corpus = writeConversations(dir, 1);
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, opts(server.url, { max_retries: 1, concurrency: 1 })));
    const r = await runCli(['run', file]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /malformed: the response to http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions is larger than 8 MiB \(cut off there\)/);
    // Two attempts, each cut off after 8 MiB (plus what the socket buffers held).
    assert.ok(server.stats.hugeBytesSent < 2 * 24 * 1024 * 1024, `${server.stats.hugeBytesSent} bytes sent`);
  });

  it('the batch backend: a batch of nonsense stops the stage (exit 5) before another round is paid for; once fixed, the rerun asks again', async () => {
    const dir = tempDir();
    const server = await start({ faults: { invalidShare: 1, batchDelayMs: 0 } });
    const corpus = writeConversations(dir, 60);
    const batch = { backend: 'openai-batch', model: 'gpt-4o', base_url: server.url, max_invalid_retries: 2, batch: { poll_initial_s: 0.02, poll_max_s: 0.05 } };
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, batch));
    const broken = await runCli(['run', file]);
    assert.equal(broken.code, 5, broken.stderr);
    assert.match(broken.stderr, /stage intents stopped: 60 of the 60 conversations answered so far got no usable intent .* Its last answer: "Sure! Here is the intent you asked for: /);
    assert.equal(server.stats.batchesCreated, 1, 'no second round submitted');

    server.faults.invalidShare = 0;
    const fixed = await runCli(['run', file]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(server.stats.batchesCreated, 2);
    const { intents, drops } = await intentRows(dir);
    assert.deepEqual(drops, []);
    assert.equal(intents.length, 60);
    assertNoSecretWritten(dir, [broken.stderr, fixed.stderr]);
  });
});
