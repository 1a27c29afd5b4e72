import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePipeline } from '../../src/config/load-pipeline.js';
import { sqlString, toNumber } from '../../src/core/db.js';
import { sha256Hex } from '../../src/core/hash.js';
import { silentLogger } from '../../src/core/logger.js';
import { readMarker, type StageMarker } from '../../src/core/marker.js';
import { IntentRequestBuilder } from '../../src/llm/intent-request-builder.js';
import { loadIntentPrompt } from '../../src/llm/intent-prompt.js';
import type { UsageSummary } from '../../src/llm/usage-meter.js';
import { intentCachePath } from '../../src/stages/intents/intent-llm-setup.js';
import { INTENT_PREFIX } from '../../src/stages/intents/template-intent.js';
import { buildDataset, STAGES } from '../../src/stages/recipe.js';
import { intentsStage } from '../../src/stages/intents/intents-stage.js';
import { dedupStage } from '../../src/stages/dedup/dedup-stage.js';
import { stageDir as runnerStageDir } from '../../src/core/runner.js';
import type { StageSpec } from '../../src/core/stage.js';
import { CLI, ROOT, tempDir, withDb, writePipeline } from '../helpers.js';
import { serverIntentFor, startOpenAICompatibleServer, type OpenAICompatibleServer } from '../servers/openai-compatible-server.js';
import { llmPipelineYaml, PROMPT_V1, writeConversations } from './../llm/llm-fixtures.js';
import type { IntentsNotes } from '../../src/stages/intents/intents-stage.js';

const SECRET = 'sk-test-DO-NOT-LEAK-4f1c2e';

/** Run the CLI as a child (so it can be SIGKILLed); resolves with its exit code or signal. */
function runCliChild(args: string[], onStart: (c: ChildProcess) => void = () => {}): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_API_KEY: SECRET, NO_COLOR: '1' };
    delete env['OPENAI_BASE_URL'];
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', () => {});
    onStart(child);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** A stage's directory, derived from the recipe's stage (directories are named by the runner, not here). */
function stageDir(dir: string, stage: Pick<StageSpec, 'name'> = intentsStage): string {
  return runnerStageDir(join(dir, 'runs'), stage);
}

async function intentsOf(dir: string): Promise<{ intents: Map<string, string>; drops: Map<string, string>; rendered: Map<string, unknown> }> {
  return withDb(async (db) => {
    const rows = await db.all<{ conversation_id: string; intent: string; messages: unknown }>(
      `SELECT conversation_id, intent, messages FROM read_parquet(${sqlString(join(stageDir(dir), 'data.parquet'))})`,
    );
    const dropsFile = join(stageDir(dir), 'drops.parquet');
    const drops = existsSync(dropsFile) ? await db.all<{ conversation_id: string; reason: string }>(`SELECT conversation_id, reason FROM read_parquet(${sqlString(dropsFile)})`) : [];
    return {
      intents: new Map(rows.map((r) => [r.conversation_id, r.intent])),
      drops: new Map(drops.map((r) => [r.conversation_id, r.reason])),
      rendered: new Map(rows.map((r) => [r.conversation_id, r.messages])),
    };
  });
}

const sha = (p: string) => sha256Hex(readFileSync(p));

function intentsMarker(r: { markers: StageMarker[] }): StageMarker {
  return r.markers.find((m) => m.stage === intentsStage.name)!;
}

function llmNotes(m: StageMarker | null): UsageSummary {
  assert.ok(m, 'intents marker');
  return (m.notes as IntentsNotes).llm!;
}

describe('LLM intents against a local OpenAI-compatible server', () => {
  const servers: OpenAICompatibleServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  const N = 2000;
  const POISON = new Set([13, 250, 499, 777, 1001, 1234, 1500, 1666, 1800, 1999]);
  const faults = { latencyMs: 1, rateLimitShare: 0.05, serverErrorShare: 0.05, invalidShare: 0.02, retryAfterMs: 5 };
  const intentsOpts = (url: string) => ({ backend: 'openai', model: 'gpt-4o', base_url: url, concurrency: 32, backoff_initial_ms: 5, backoff_max_ms: 50, timeout_s: 10, max_invalid_retries: 2 });

  it('2,000 conversations, 10% 429/500 and 2% invalid answers, killed mid-run: the rerun finishes with the same intents and pays nothing twice', async () => {
    // Reference: one uninterrupted run on its own server.
    const refDir = tempDir();
    const ref = await startOpenAICompatibleServer({ faults, lifetimeMs: 600_000 });
    servers.push(ref);
    const refCorpus = writeConversations(refDir, N, POISON);
    const { pipeline: refPipeline } = writePipeline(refDir, llmPipelineYaml(refDir, refCorpus, intentsOpts(ref.url)));
    await buildDataset(refPipeline(), silentLogger);
    assert.equal(ref.stats.resentAfterAnswer, 0, 'no answered request sent twice');
    assert.ok(ref.stats.rateLimited > 50 && ref.stats.serverErrors > 50 && ref.stats.invalid > 10, JSON.stringify(ref.stats));
    const refMarker = await readMarker(stageDir(refDir));
    const notes = llmNotes(refMarker);
    assert.equal(notes.requests, ref.stats.chatRequests, 'every request counted');
    assert.equal(notes.retries, ref.stats.rateLimited + ref.stats.serverErrors);
    assert.equal(notes.answers, ref.stats.answered);
    assert.equal(notes.cache_hits, 0);
    assert.ok(notes.cost_usd! > 0 && notes.prompt_tokens > 0);
    assert.deepEqual(refMarker!.drops, { intent_invalid: POISON.size });
    const manifest = JSON.parse(readFileSync(join(refDir, 'out', 'manifest.json'), 'utf8'));
    const inManifest = manifest.stages.find((st: { name: string }) => st.name === 'intents');
    assert.equal(inManifest.llm.requests, notes.requests);
    assert.equal(inManifest.llm.prompt.version, 1);
    assert.match(readFileSync(join(refDir, 'out', 'README.md'), 'utf8'), /Stage intents: written by `gpt-4o` \(openai backend\) with prompt `userlm-intent` v1 .* sent [\d,]+ request\(s\) with [\d,]+ retries, reused 0 cached answer\(s\), used [\d,]+ tokens \(about \$\d+\.\d\d\)\./);

    const r = await intentsOf(refDir);
    assert.equal(r.intents.size + r.drops.size, N, 'every conversation ends with an intent or a counted drop');
    assert.deepEqual([...r.drops.keys()].sort(), [...POISON].map((i) => `logs:c${i}`).sort());
    for (const intent of r.intents.values()) assert.match(intent, new RegExp(`^${INTENT_PREFIX} get help with request [0-9a-f]{12}\\.$`));

    // The same run, killed with SIGKILL after 700 answers, then run again.
    const dir = tempDir();
    let child: ChildProcess | null = null;
    const server = await startOpenAICompatibleServer({
      faults,
      lifetimeMs: 600_000,
      onAnswered: (n) => {
        if (n === 700) child?.kill('SIGKILL');
      },
    });
    servers.push(server);
    const corpus = writeConversations(dir, N, POISON);
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, intentsOpts(server.url)));
    const killed = await runCliChild(['run', file, '--json'], (c) => (child = c));
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.ok(!existsSync(stageDir(dir)), 'no intents stage output from the killed run');
    const cached = readFileSync(intentCachePath(join(dir, 'runs')), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { t?: string | null });
    const cachedLines = cached.length;
    // An invalid answer from the killed run is asked again (it is not final), so its body is sent twice.
    const invalidCached = cached.filter((l) => !(l.t ?? '').startsWith(INTENT_PREFIX)).length;
    assert.ok(cachedLines >= 700 - 32 && cachedLines < N, `${cachedLines} answers cached before the kill`);
    const answeredBeforeRerun = server.stats.answered;

    const rerun = await runCliChild(['run', file, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.ok(server.stats.resentAfterAnswer <= 32 + invalidCached, `only requests in flight at the kill and invalid answers may be sent again (${server.stats.resentAfterAnswer}, ${invalidCached} invalid)`);
    const rerunNotes = llmNotes(await readMarker(stageDir(dir)));
    // Each invalid answer asked again may make one later attempt's cached valid answer moot.
    assert.ok(rerunNotes.cache_hits >= cachedLines - 2 * invalidCached, `the rerun used the cached valid answers (${rerunNotes.cache_hits} of ${cachedLines}, ${invalidCached} invalid)`);
    assert.equal(rerunNotes.answers, server.stats.answered - answeredBeforeRerun);

    // The stage files name their source path (which differs); the intents and drops must not.
    const again = await intentsOf(dir);
    assert.deepEqual([...again.intents], [...r.intents], 'same intents, in the same order');
    assert.deepEqual([...again.drops], [...r.drops]);
    const shards = (d: string) => readdirSync(join(d, 'out', 'data')).sort().map((f) => sha(join(d, 'out', 'data', f)));
    assert.deepEqual(shards(dir), shards(refDir));

    // The API key never reaches a file or a log line.
    for (const f of filesUnder(dir)) assert.ok(!readFileSync(f).includes(SECRET), `${f} holds the API key`);
    assert.ok(!killed.stderr.includes(SECRET) && !rerun.stderr.includes(SECRET));
    assert.match(rerun.stderr, /"event":"intents.usage"/);

    // A rerun of the stage with every answer cached asks again only where an answer was
    // invalid (an invalid answer from an earlier run is not final): the poisoned conversations'
    // 3 attempts each, and at most once per other invalid answer; every valid answer is reused.
    const before = ref.stats.chatRequests;
    const answeredBefore = ref.stats.answered;
    const invalidBefore = ref.stats.invalid;
    const refBytes = sha(join(stageDir(refDir), 'data.parquet'));
    rmSync(stageDir(refDir), { recursive: true });
    await buildDataset(refPipeline(), silentLogger);
    const reasked = ref.stats.answered - answeredBefore;
    assert.ok(reasked >= POISON.size * 3 && reasked <= invalidBefore, `only the invalid ones asked again (${reasked}, ${invalidBefore} invalid before)`);
    const cachedNotes = llmNotes(await readMarker(stageDir(refDir)));
    assert.equal(cachedNotes.requests, ref.stats.chatRequests - before);
    // A conversation whose first answer was invalid may get a valid one when asked again; its cached second answer then goes unused.
    assert.ok(cachedNotes.cache_hits >= N - POISON.size - (invalidBefore - 3 * POISON.size), `${cachedNotes.cache_hits} cache hits`);
    assert.equal(sha(join(stageDir(refDir), 'data.parquet')), refBytes, 'same answers from the cache, byte-identical output');
  });

  it('options that only change speed or price do not rerun the stage; the model and the endpoint do', async () => {
    const dir = tempDir();
    const server = await startOpenAICompatibleServer({ lifetimeMs: 60_000 });
    servers.push(server);
    const corpus = writeConversations(dir, 30);
    const base = intentsOpts(server.url);
    const run = (o: Record<string, unknown>, name: string) => buildDataset(writePipeline(dir, llmPipelineYaml(dir, corpus, o), name).pipeline(), silentLogger);
    await run(base, 'a.yaml');
    const r2 = await run({ ...base, concurrency: 3, requests_per_minute: 100000, timeout_s: 30, max_retries: 3, max_invalid_fraction: 0.9, invalid_guard_window: 10, prices: {} }, 'b.yaml');
    assert.ok(r2.skipped.includes('intents'));
    // Another server may answer differently under the same model name: the stage reruns and
    // asks it everything (the cache key holds the endpoint), the first server gets nothing.
    const other = await startOpenAICompatibleServer({ lifetimeMs: 60_000 });
    servers.push(other);
    const sentToFirst = server.stats.chatRequests;
    const moved = await run({ ...base, base_url: other.url }, 'moved.yaml');
    assert.ok(moved.executed.includes('intents'));
    assert.equal(other.stats.answered, 30);
    assert.equal(server.stats.chatRequests, sentToFirst);
    assert.ok((await run({ ...base, base_url: other.url, concurrency: 5 }, 'moved2.yaml')).skipped.includes('intents'), 'a speed option at the new endpoint still reruns nothing');
    const r3 = await run({ ...base, model: 'gpt-4o-mini' }, 'c.yaml');
    assert.ok(r3.executed.includes('intents'));
    assert.deepEqual([...server.models].sort(), ['gpt-4o', 'gpt-4o-mini']);
    const notes = llmNotes(intentsMarker(r3));
    assert.equal(notes.cost_usd !== null && notes.cost_usd > 0, true, 'gpt-4o-mini is in the default price table');
  });

  it('a bad key stops the stage with exit 4, names the variable, and leaves earlier stages intact', async () => {
    const dir = tempDir();
    const server = await startOpenAICompatibleServer({ requireKey: 'sk-the-right-one', lifetimeMs: 60_000 });
    servers.push(server);
    const corpus = writeConversations(dir, 20);
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, intentsOpts(server.url)));
    const r = await runCliChild(['run', file]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /HTTP 401.*Check the API key in the environment variable OPENAI_API_KEY \(.*pipeline\.yaml stages\.intents\.api_key_env\)/);
    assert.ok(!r.stderr.includes(SECRET));
    assert.ok(existsSync(join(stageDir(dir, dedupStage), '_SUCCESS.json')));
    assert.ok(!existsSync(stageDir(dir)));
  });

  it('the batch backend: 1,200 requests in 3 files, killed between submit and completion, resumes the running batches and resubmits the expired requests', async () => {
    const dir = tempDir();
    const poison = new Set([300, 600, 1100]); // none among the 150 that expire
    let child: ChildProcess | null = null;
    let armed = true;
    const server = await startOpenAICompatibleServer({
      // Held until the kill: on a loaded machine a delay alone lets a batch finish first.
      faults: { batchDelayMs: 0, holdBatches: true, expireFirstBatches: 1, expiredShare: 0.3 },
      lifetimeMs: 600_000,
      onBatchPolled: () => {
        if (armed && server.stats.batchesCreated >= 3) {
          armed = false;
          child?.kill('SIGKILL');
        }
      },
    });
    servers.push(server);
    const corpus = writeConversations(dir, 1200, poison);
    const { file, pipeline } = writePipeline(
      dir,
      llmPipelineYaml(dir, corpus, { backend: 'openai-batch', model: 'gpt-4o', base_url: server.url, max_invalid_retries: 2, batch: { max_requests_per_file: 500, poll_initial_s: 0.02, poll_max_s: 0.1 } }),
    );
    const killed = await runCliChild(['run', file], (c) => (child = c));
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    const jobs = JSON.parse(readFileSync(join(dir, 'runs', 'cache', 'intents', 'batches', 'jobs.json'), 'utf8')).jobs as { status: string; requests: number; batch_id: string }[];
    assert.deepEqual(jobs.map((j) => [j.status, j.requests]), [['submitted', 500], ['submitted', 500], ['submitted', 200]]);
    assert.equal(server.stats.batchRequestsAnswered, 0, 'killed before any batch completed');
    server.faults.holdBatches = false;

    const r = await buildDataset(pipeline(), silentLogger);
    assert.ok(r.executed.includes('intents'));
    // 3 files, then one with the 150 expired requests and the poisoned conversations' second
    // attempts, then one with their third attempts.
    assert.equal(server.stats.batchesCreated, 5, JSON.stringify(server.stats));
    assert.equal(server.stats.filesUploaded, 5);
    assert.equal(server.stats.batchRequestsExpired, 150);
    assert.equal(server.stats.batchResentAfterAnswer, 0, 'no answered batch request paid twice');
    assert.equal(server.stats.chatRequests, 0, 'no online requests');
    const notes = llmNotes(intentsMarker(r));
    assert.deepEqual(notes.batches, { files: 2, submitted: 2, resumed: 3, resubmitted_requests: 150 });
    assert.equal(notes.expired, 150);
    assert.deepEqual(intentsMarker(r).drops, { intent_invalid: 3 });

    // Each conversation got its own answer back (results come in another order than sent).
    const { intents, drops, rendered } = await intentsOf(dir);
    assert.equal(intents.size + drops.size, 1200);
    const o = pipeline().config.stages.intents;
    const builder = new IntentRequestBuilder(await loadIntentPrompt(PROMPT_V1, INTENT_PREFIX, 'test'), {
      model: o.model, temperature: o.temperature, retryTemperature: o.retry_temperature, maxTokens: o.max_tokens,
      assistantMaxChars: o.assistant_max_chars, userMaxChars: o.user_max_chars, conversationMaxChars: o.conversation_max_chars, endpoint: server.url,
    });
    for (const [id, intent] of intents) {
      const body = builder.body(builder.render(rendered.get(id) as { role: string; content: string }[]), 0);
      const last = body.messages[body.messages.length - 1]!.content as string;
      assert.equal(intent, serverIntentFor(last), id);
    }

    // Rerunning the stage takes every valid answer from the cache and asks again only for the
    // 3 conversations whose answers were invalid (an earlier run's invalid answer is not final):
    // their 3 attempts, one batch each.
    const created = server.stats.batchesCreated;
    const answeredBefore = server.stats.batchRequestsAnswered;
    rmSync(stageDir(dir), { recursive: true });
    const again = await buildDataset(pipeline(), silentLogger);
    assert.equal(server.stats.batchesCreated, created + 3);
    assert.equal(server.stats.batchRequestsAnswered - answeredBefore, 3 * 3);
    assert.equal(llmNotes(intentsMarker(again)).cache_hits, 1200 - 3);
    assert.deepEqual(intentsMarker(again).drops, { intent_invalid: 3 });
  });

  it('without a key for api.openai.com the run stops before any stage, naming the variable', () => {
    const dir = tempDir();
    const corpus = writeConversations(dir, 5);
    const { file } = writePipeline(dir, llmPipelineYaml(dir, corpus, { backend: 'openai', api_key_env: 'USERLM_TEST_UNSET_KEY' }));
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['OPENAI_BASE_URL'];
    delete env['USERLM_TEST_UNSET_KEY'];
    const r = spawnSync(process.execPath, [CLI, 'run', file], { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /pipeline\.yaml stages\.intents\.api_key_env: the environment variable USERLM_TEST_UNSET_KEY is not set; export your API key/);
    assert.ok(!existsSync(join(dir, 'runs', 'normalize')));
  });

  it('the shipped pipelines: the paper recipe asks gpt-4o, the sample stays offline', () => {
    const wild = parsePipeline(readFileSync(join(ROOT, 'pipelines', 'userlm-wildchat.yaml'), 'utf8'), 'userlm-wildchat.yaml').config.stages.intents;
    assert.equal(wild.backend, 'openai');
    assert.equal(wild.model, 'gpt-4o');
    assert.ok(statSync(join(ROOT, wild.prompt)).isFile());
    const sample = parsePipeline(readFileSync(join(ROOT, 'pipelines', 'sample.yaml'), 'utf8'), 'sample.yaml').config.stages.intents;
    assert.equal(sample.backend, 'template');
  });
});

describe('intent config errors name the file and line', () => {
  const head = 'name: x\nsources: [{name: a, type: wildchat, files: [a.parquet]}]\nstages:\n  intents:\n';
  const issues = (body: string) => {
    try {
      parsePipeline(head + body, 'p.yaml');
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  };

  it('unknown backend, bounds the wrong way round, a missing prompt file, a bad URL', () => {
    assert.match(issues('    backend: opneai\n'), /p\.yaml:5:14 stages\.intents\.backend: must be one of "template", "openai", "openai-batch" \(got "opneai"\); did you mean "openai"\?/);
    assert.match(issues('    backend: openai\n    min_chars: 900\n    max_chars: 100\n'), /p\.yaml:6:16 stages\.intents\.min_chars: must be <= max_chars \(100\) \(got 900\)/);
    assert.match(issues('    backend: openai\n    prompt: nowhere/prompt.yaml\n'), /p\.yaml:6:13 stages\.intents\.prompt: prompt file not found: nowhere\/prompt\.yaml/);
    assert.match(issues('    backend: openai\n    base_url: localhost:8000\n'), /p\.yaml:6:15 stages\.intents\.base_url: must match \^https\?:\/\//);
    assert.match(issues('    backend: openai\n    batch: {max_requests_per_file: 60000}\n'), /stages\.intents\.batch\.max_requests_per_file: must be <= 50000/);
  });
});
