// Benchmarks of the LLM intent backends against the local OpenAI-compatible server, which
// runs in a child process so that its CPU is not charged to the client:
//   1. throughput with 50 ms server latency at concurrency 64 (target >= 90% of 64 / 0.05 s);
//   2. a 120,000-request Batch API job (3 files of <= 50,000), killed between submit and
//      completion, resumed, with expired requests resubmitted;
//   3. a fully cached rerun of those 120,000 intents (target for 100k: under 20 s).
// Run: node dist/src/bench/intents-bench.js [throughput] [batch]
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { parsePipeline } from '../config/load-pipeline.js';
import { silentLogger } from '../core/logger.js';
import { resultOf, runPipeline, stageDir, type RunResult } from '../core/runner.js';
import { intentsStage } from '../stages/intents/intents-stage.js';
import type { UsageSummary } from '../llm/usage-meter.js';
import { STAGES } from '../stages/recipe.js';
import { writeConversations } from '../../test/llm/llm-fixtures.js';
import { tempDir } from '../../test/helpers.js';
import { startOpenAICompatibleServer, type ServerFaults, type ServerStats } from '../../test/servers/openai-compatible-server.js';

const HERE = fileURLToPath(import.meta.url);
const CLI = join(dirname(HERE), '..', 'cli', 'main.js');
/** normalize, filter, dedup, intents: the stages up to the one measured. */
/** Wall time of the intents stage in a run. */
const secondsOf = (run: RunResult) => run.markers.find((m) => m.stage === intentsStage.name)!.seconds;

const UP_TO_INTENTS = STAGES.slice(0, 4);
const SEMI_SPACE_MB = 32;

type ToServer = { cmd: 'stats' } | { cmd: 'stop' };
type FromServer = { event: 'ready'; url: string } | { event: 'stats'; stats: ServerStats } | { event: 'polled'; created: number };

/** The server in a child process, driven over IPC. */
class ServerProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(faults: Partial<ServerFaults>, onPolled?: (created: number) => void): Promise<ServerProcess> {
    const child = fork(HERE, ['--serve', JSON.stringify(faults)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const url = await new Promise<string>((resolve, reject) => {
      child.once('error', reject);
      child.on('message', (m: FromServer) => {
        if (m.event === 'ready') resolve(m.url);
        if (m.event === 'polled') onPolled?.(m.created);
      });
    });
    return new ServerProcess(child, url);
  }

  stats(): Promise<ServerStats> {
    return new Promise((resolve) => {
      const on = (m: FromServer) => {
        if (m.event !== 'stats') return;
        this.child.off('message', on);
        resolve(m.stats);
      };
      this.child.on('message', on);
      this.child.send({ cmd: 'stats' } satisfies ToServer);
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ cmd: 'stop' } satisfies ToServer);
    await exited;
  }
}

async function serveForParent(faults: Partial<ServerFaults>): Promise<void> {
  const server = await startOpenAICompatibleServer({
    faults,
    lifetimeMs: 20 * 60_000,
    onBatchPolled: () => process.send!({ event: 'polled', created: server.stats.batchesCreated } satisfies FromServer),
  });
  process.on('message', async (m: ToServer) => {
    if (m.cmd === 'stats') process.send!({ event: 'stats', stats: server.stats } satisfies FromServer);
    if (m.cmd === 'stop') {
      await server.close();
      process.disconnect();
    }
  });
  process.on('disconnect', () => void server.close());
  process.send!({ event: 'ready', url: server.url } satisfies FromServer);
}

// A short prompt for the batch job: with the shipped few-shot prompt a request is ~5 KB and
// 50,000 of them pass the 200 MB file limit, so the byte limit, not the count, would split it.
const COMPACT_PROMPT = `id: bench-compact
version: 1
system: Write the user's high-level intent, starting "You are a user chatting with an assistant language model to".
examples:
  - messages: [{role: user, content: "fix my bike chain"}, {role: assistant, content: "Shift to the smallest cog..."}]
    intent: You are a user chatting with an assistant language model to get practical help repairing a piece of equipment.
user_template: "Conversation:\\n{conversation}"
`;

function pipelineYaml(dir: string, corpus: string, intents: Record<string, unknown>): string {
  return stringify({
    name: 'intents-bench',
    run_dir: join(dir, 'runs'),
    out_dir: join(dir, 'out'),
    sources: [{ name: 'logs', type: 'generic', preset: 'sharegpt', files: [corpus], language: 'English' }],
    // The corpus differs only in numbers, which dedup folds: near-dup and template removal
    // would collapse it and leave nothing to ask.
    stages: { dedup: { near: { enabled: false }, templates: { enabled: false } }, split: { check_leaks: false }, intents },
  });
}

function load(dir: string, yaml: string) {
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, yaml);
  return { file, pipeline: parsePipeline(yaml, file) };
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const verdict = (ok: boolean) => (ok ? 'ok' : 'BELOW TARGET');

async function benchThroughput(): Promise<void> {
  const latencyMs = 50;
  const concurrency = 64;
  const n = 8000;
  const server = await ServerProcess.start({ latencyMs });
  try {
    const dir = tempDir('userlm-bench-');
    const corpus = writeConversations(dir, n);
    const { pipeline } = load(dir, pipelineYaml(dir, corpus, { backend: 'openai', model: 'gpt-4o', base_url: server.url, concurrency, prompt: fileURLToPath(new URL('../../../pipelines/prompts/intent-v1.yaml', import.meta.url)) }));
    const started = performance.now();
    const cpu = process.cpuUsage();
    const r = await runPipeline(pipeline, UP_TO_INTENTS, { log: silentLogger });
    const used = process.cpuUsage(cpu);
    const wall = (performance.now() - started) / 1000;
    const s = await server.stats();
    const window = (s.lastAnsweredAt! - s.firstRequestAt!) / 1000;
    const ideal = concurrency / (latencyMs / 1000);
    const rate = s.answered / window;
    const stage = { seconds: secondsOf(r) };
    const gc = process.execArgv.find((a) => a.startsWith('--max-semi-space-size')) ?? 'default young generation';
    console.log(`intents throughput: ${fmt(n)} requests, server latency ${latencyMs} ms, concurrency ${concurrency} (${gc})`);
    console.log(`  ${fmt(rate)} req/s from first request to last answer = ${fmt((100 * rate) / ideal, 1)}% of the ideal ${fmt(ideal)} req/s (target >= 90%): ${verdict(rate >= 0.9 * ideal)}`);
    console.log(`  intents stage ${fmt(stage.seconds, 2)} s (${fmt(n / stage.seconds)} conversations/s incl. reading, cache and Parquet); normalize..intents ${fmt(wall, 1)} s`);
    console.log(`  client CPU ${fmt((used.user + used.system) / 1000 / n, 3)} ms per request (normalize..intents)`);
    // On a shared machine the client may not get a whole core.
    console.log(`  load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} cores`);
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await server.stop();
  }
}

async function benchBatchAndCache(): Promise<void> {
  const n = 120_000;
  let cli: ChildProcess | null = null;
  let killed = false;
  const server = await ServerProcess.start({ batchDelayMs: 3000, expireFirstBatches: 1, expiredShare: 0.1 }, (created) => {
    if (!killed && created >= 3 && cli) {
      killed = true;
      cli.kill('SIGKILL');
    }
  });
  const dir = tempDir('userlm-bench-');
  try {
    const corpus = writeConversations(dir, n);
    const prompt = join(dir, 'compact-prompt.yaml');
    writeFileSync(prompt, COMPACT_PROMPT);
    const intents = { backend: 'openai-batch', model: 'gpt-4o', base_url: server.url, prompt, batch: { max_requests_per_file: 50_000, poll_initial_s: 0.1, poll_max_s: 0.5 } };
    const { file, pipeline } = load(dir, pipelineYaml(dir, corpus, intents));

    const t0 = performance.now();
    const child = fork(CLI, ['run', file, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    cli = child;
    const exit = await new Promise<string | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    const t1 = performance.now();
    const atKill = await server.stats();
    console.log(`batch job: ${fmt(n)} requests; first process killed (${exit}) after submitting ${atKill.batchesCreated} batches (${fmt((t1 - t0) / 1000, 1)} s incl. normalize/filter/dedup)`);

    const r = await runPipeline(pipeline, UP_TO_INTENTS, { log: silentLogger });
    const t2 = performance.now();
    const s = await server.stats();
    const notes = resultOf(r, intentsStage).notes.llm!;
    const ok = s.batchesCreated === 4 && s.batchResentAfterAnswer === 0 && notes.batches?.resumed === 3 && resultOf(r, intentsStage).conversations_out === n;
    console.log(
      `  restarted process: resumed ${notes.batches?.resumed} running batches, resubmitted ${fmt(notes.batches?.resubmitted_requests ?? 0)} expired requests in ${notes.batches?.submitted} new batch; ` +
        `batches created ${s.batchesCreated}, files uploaded ${s.filesUploaded}, answered twice ${s.batchResentAfterAnswer}; ${fmt(resultOf(r, intentsStage).conversations_out)} intents in ${fmt((t2 - t1) / 1000, 1)} s: ${verdict(ok)}`,
    );
    console.log(`  usage: ${fmt(notes.prompt_tokens + notes.completion_tokens)} tokens, estimated $${fmt(notes.cost_usd ?? 0, 2)} at batch prices`);

    // Fully cached rerun of the intents stage.
    rmSync(stageDir(join(dir, 'runs'), intentsStage), { recursive: true });
    const before = s.batchesCreated + s.chatRequests;
    const t3 = performance.now();
    const again = await runPipeline(pipeline, UP_TO_INTENTS, { log: silentLogger });
    const secs = (performance.now() - t3) / 1000;
    const s2 = await server.stats();
    const sent = s2.batchesCreated + s2.chatRequests - before;
    const cached = resultOf(again, intentsStage).notes.llm!;
    const againSeconds = secondsOf(again);
    console.log(
      `fully cached rerun: ${fmt(n)} intents in ${fmt(secs, 2)} s (intents stage ${fmt(againSeconds, 2)} s; ${fmt((againSeconds * 100_000) / n, 2)} s per 100k, target < 20 s), ` +
        `${fmt(cached.cache_hits)} cache hits, ${sent} requests sent: ${verdict(againSeconds * (100_000 / n) < 20 && sent === 0)}`,
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every part, or only those named (`throughput`, `batch`). */
export async function benchIntents(parts: string[] = []): Promise<void> {
  if (parts.length === 0 || parts.includes('throughput')) await benchThroughput();
  if (parts.length === 0 || parts.includes('batch')) await benchBatchAndCache();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--serve') await serveForParent(JSON.parse(process.argv[3] ?? '{}') as Partial<ServerFaults>);
  else if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
    // At ~1,300 requests/s the default young generation costs a fifth of the client's CPU in
    // scavenges; measure as a high-throughput run should be started (see README).
    const r = spawnSync(process.execPath, [`--max-semi-space-size=${SEMI_SPACE_MB}`, HERE, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  } else await benchIntents(process.argv.slice(2));
}
