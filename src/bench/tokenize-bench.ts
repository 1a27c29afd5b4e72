import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { END_TOKEN, flipConversation, type ChatMessage } from '../stages/flip/flip-conversation.js';
import { CHAT_FORMATS, renderTrainingText } from '../stages/tokenize/chat-format.js';
import type { BatchCounts, ConversationBatch } from '../stages/tokenize/count-batch.js';
import { countBatches } from '../stages/tokenize/count-batches.js';
import { countConversationSamples } from '../stages/tokenize/count-conversation-samples.js';
import { loadTokenizer } from '../stages/tokenize/load-tokenizer.js';
import { uniform as rng } from '../core/seeded-random.js';

const REALDATA = fileURLToPath(new URL('../../../test/fixtures/wildchat-1m-sample50.jsonl', import.meta.url));
const INTENT = 'You are a user chatting with an assistant language model to get help writing or editing a piece of text.';

function textPool(): string[] {
  if (existsSync(REALDATA)) {
    return readFileSync(REALDATA, 'utf8').trim().split('\n')
      .flatMap((l) => (JSON.parse(l) as { conversation: { content: string }[] }).conversation.map((m) => m.content))
      .filter((t) => t.trim().length > 0);
  }
  const words = 'the a to of and in is it you that for on with as be this can was are have at or not what how please write code help make story email'.split(' ');
  const r = rng(7);
  return Array.from({ length: 500 }, () => Array.from({ length: 20 + Math.floor(r() * 200) }, () => words[Math.floor(r() * words.length)]).join(' '));
}

/** Conversations of 1..maxTurns user turns made of slices of real messages, until `samples` samples. */
function* conversations(samples: number, maxTurns: number, seed: number): Generator<ChatMessage[]> {
  const pool = textPool();
  const r = rng(seed);
  // Whole words of real messages: a message starts and ends on a word boundary, as typed.
  const piece = () => {
    const t = pool[Math.floor(r() * pool.length)]!;
    const from = t.indexOf(' ', Math.floor(r() * Math.max(1, t.length - 400)));
    const start = from < 0 ? 0 : from + 1;
    const stop = t.lastIndexOf(' ', start + 50 + Math.floor(r() * 350));
    return t.slice(start, stop > start ? stop : undefined);
  };
  let made = 0;
  while (made < samples) {
    const k = 1 + Math.floor(r() * maxTurns);
    const msgs: ChatMessage[] = [];
    for (let i = 0; i < k; i++) msgs.push({ role: 'user', content: piece() }, { role: 'assistant', content: piece() });
    made += k + 1;
    yield msgs;
  }
}

function bytesOf(msgs: ChatMessage[]): number {
  let b = Buffer.byteLength(INTENT);
  for (const m of msgs) b += Buffer.byteLength(m.content);
  return b;
}

/** Bytes of text in a conversation's K+1 samples: the intent and the history, again for each. */
function sampleTextBytes(c: ChatMessage[]): number {
  let total = 0;
  let prefix = 0;
  for (let i = 0; i < c.length; i += 2) {
    total += Buffer.byteLength(INTENT) + prefix + Buffer.byteLength(c[i]!.content);
    prefix += Buffer.byteLength(c[i]!.content) + Buffer.byteLength(c[i + 1]!.content);
  }
  return total + Buffer.byteLength(INTENT) + prefix;
}

/** Conversations in the batches the tokenize stage sends its workers (at most 2048 conversations or 1M characters). */
function stageBatches(convs: Iterable<ChatMessage[]>): ConversationBatch[] {
  const out: ConversationBatch[] = [];
  let b = { intents: [] as string[], roles: [] as string[], contents: [] as string[], offsets: [0], size: 0 };
  const close = () => {
    out.push({ intents: b.intents, roles: b.roles, contents: b.contents, offsets: Int32Array.from(b.offsets) });
    b = { intents: [], roles: [], contents: [], offsets: [0], size: 0 };
  };
  for (const c of convs) {
    b.intents.push(INTENT);
    b.size += INTENT.length;
    for (const m of c) {
      b.roles.push(m.role);
      b.contents.push(m.content);
      b.size += m.content.length;
    }
    b.offsets.push(b.contents.length);
    if (b.size >= 1 << 20 || b.intents.length >= 2048) close();
  }
  if (b.intents.length) close();
  return out;
}

async function* replay(batches: ConversationBatch[]): AsyncGenerator<ConversationBatch> {
  yield* batches;
}

/**
 * The stage's counting path (countBatches) on one worker thread, then on one per core:
 * rates of conversation text, their ratio, and whether every sample's counts are equal.
 */
async function benchWorkers(samples: number): Promise<boolean> {
  const convs = [...conversations(samples, 4, 5)];
  const bytes = convs.reduce((a, c) => a + bytesOf(c), 0);
  const batches = stageBatches(convs);
  const setup = { tokenizerJson: null, endToken: END_TOKEN, format: 'userlm-8b' as const, maxSeqLen: 2048, overflow: 'truncate_history' as const };
  const run = async (workers: number) => {
    const got: BatchCounts[] = [];
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    await countBatches(replay(batches), setup, workers, (c) => got.push(c));
    const s = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { s, cpu: (cpu.user + cpu.system) / 1e6, got };
  };
  // Both measured the same way: fresh worker threads that load their own tokenizer and start
  // with a cold pre-token cache, as the stage's workers do.
  const one = await run(1);
  const n = availableParallelism();
  const many = await run(n);
  let equal = one.got.length === many.got.length;
  let tokens = 0;
  for (let i = 0; equal && i < one.got.length; i++) {
    const a = one.got[i]!;
    const b = many.got[i]!;
    for (const k of ['sampleOffsets', 'numTokens', 'numTargetTokens', 'historyDropped', 'tooLong'] as const) equal &&= Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer));
    for (const x of a.numTokens) tokens += x;
  }
  const mb = bytes / 1e6;
  const ratio = one.s / many.s;
  console.log(`worker threads: ${convs.length.toLocaleString('en-US')} conversations (${mb.toFixed(1)} MB of text, ${tokens.toLocaleString('en-US')} sample tokens) in ${batches.length} batches, as the stage counts them`);
  console.log(`  single thread (1 worker):  ${(mb / one.s).toFixed(2).padStart(6)} MB/s  (${one.s.toFixed(1)} s wall, ${one.cpu.toFixed(1)} CPU s)`);
  console.log(`  ${String(n).padStart(2)} worker threads:         ${(mb / many.s).toFixed(2).padStart(6)} MB/s  (${many.s.toFixed(1)} s wall, ${many.cpu.toFixed(1)} CPU s; start-up and tokenizer loading included in both)`);
  console.log(`  ratio ${ratio.toFixed(2)}x on ${n} cores (target >= 2x on 2 cores: ${n >= 2 && ratio >= 2 ? 'ok' : 'MISSED'}); counts of every sample equal: ${equal ? 'yes' : 'NO'}`);
  return equal;
}

/** Prints tokenization throughput at 1M samples, with per-turn reuse and without, and on every core. */
export async function benchTokenize(): Promise<void> {
  if (!(await benchWorkers(Number(process.env['USERLM_BENCH_TOKENIZE_SAMPLES'] ?? 400_000)))) process.exitCode = 1;
  if (process.env['USERLM_BENCH_TOKENIZE_WORKERS_ONLY']) return;
  const { tokenizer: tok } = await loadTokenizer({ tokenizerJson: null, endToken: END_TOKEN });
  const o = { maxSeqLen: 2048, overflow: 'truncate_history' as const, endToken: END_TOKEN, format: CHAT_FORMATS['userlm-8b'] };
  const SAMPLES = 1_000_000;
  // Warm the pre-token cache the way a long run has it warm.
  for (const c of conversations(20_000, 4, 99)) countConversationSamples(tok, INTENT, c, o);

  let convBytes = 0;
  let sampleBytes = 0;
  let samples = 0;
  let tokens = 0;
  let reuseS = 0;
  // Generated in batches outside the clock, so only tokenization is timed.
  let batch: ChatMessage[][] = [];
  const run = () => {
    const t = performance.now();
    for (const c of batch) {
      const { samples: s } = countConversationSamples(tok, INTENT, c, o);
      samples += s.length;
      for (const x of s) tokens += x.num_tokens;
    }
    reuseS += (performance.now() - t) / 1000;
    batch = [];
  };
  for (const c of conversations(SAMPLES, 4, 1)) {
    convBytes += bytesOf(c);
    sampleBytes += sampleTextBytes(c);
    batch.push(c);
    if (batch.length === 10_000) run();
  }
  run();
  const line = (label: string, mb: number, s: number) => `  ${label.padEnd(44)} ${mb.toFixed(1).padStart(8)} MB in ${s.toFixed(1).padStart(6)} s = ${(mb / s).toFixed(1).padStart(6)} MB/s`;
  console.log(`tokenize bench: ${samples.toLocaleString('en-US')} samples (1-4 user turns each conversation), ${tokens.toLocaleString('en-US')} tokens, one core`);
  console.log(line('per-turn reuse, conversation text', convBytes / 1e6, reuseS));
  console.log(`  the same samples' own text (history repeated): ${(sampleBytes / 1e6).toFixed(1)} MB, ${(sampleBytes / convBytes).toFixed(2)}x the conversation text`);

  // Tokenizing every sample whole reads that repeated text; measured on a slice, it is the cost reuse avoids.
  const SLICE = 50_000;
  let naiveBytes = 0;
  let naiveConv = 0;
  const texts: string[] = [];
  for (const c of conversations(SLICE, 4, 1)) {
    naiveConv += bytesOf(c);
    for (const s of flipConversation(INTENT, c)) texts.push(renderTrainingText(CHAT_FORMATS['userlm-8b'], s.messages, s.target));
  }
  for (const t of texts) naiveBytes += Buffer.byteLength(t);
  const t0 = performance.now();
  for (const t of texts) tok.count(t);
  const naiveS = (performance.now() - t0) / 1000;
  const n = texts.length;
  console.log(line(`whole-sample tokenization (${n.toLocaleString('en-US')} samples)`, naiveBytes / 1e6, naiveS));
  console.log(`  -> conversation text per second: ${(naiveConv / 1e6 / naiveS).toFixed(1)} MB/s whole-sample vs ${(convBytes / 1e6 / reuseS).toFixed(1)} MB/s with reuse`);

  // Scaling: longer conversations make the sample text grow quadratically; reuse time must follow the conversation text.
  for (const maxTurns of [2, 8, 16]) {
    const convs = [...conversations(100_000, maxTurns, 3)];
    const b = convs.reduce((a, c) => a + bytesOf(c), 0);
    const sb = convs.reduce((a, c) => a + sampleTextBytes(c), 0);
    const t = performance.now();
    for (const c of convs) countConversationSamples(tok, INTENT, c, o);
    const s = (performance.now() - t) / 1000;
    console.log(
      `  100,000 samples of 1-${String(maxTurns).padEnd(2)} turns: conversation text ${(b / 1e6).toFixed(1).padStart(6)} MB, sample text ${(sb / 1e6).toFixed(1).padStart(7)} MB, ` +
        `${s.toFixed(2)} s = ${(b / 1e6 / s).toFixed(1)} MB/s of conversation text`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  benchTokenize().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
