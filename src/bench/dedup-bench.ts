// make bench: the dedup stage as the pipeline runs it, on two corpora with planted copies
// and ground truth: real WildChat user turns with edits planted into them, and a synthetic
// WildChat-shaped corpus (1M by default). Each step runs in its own process so that peak
// RSS and CPU time belong to that step alone.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePipeline } from '../config/load-pipeline.js';
import { Db, sqlString } from '../core/db.js';
import { silentLogger } from '../core/logger.js';
import { runPipeline, stageDir } from '../core/runner.js';
import { DATA_FILE, DROPS_FILE } from '../core/stage.js';
import { CLUSTERS_FILE } from '../stages/dedup/dedup-stage.js';
import { STAGES } from '../stages/recipe.js';
import { countWords, EDIT_KINDS, lengthBucket, LENGTH_BUCKETS, rateBucket, wordEditRatio } from './plant-edits.js';
import { buildRealCorpus } from './realtext-corpus.js';
import { generateCorpus, writeCorpusParquet } from './synthetic-corpus.js';

const BENCH_DIR = process.env['USERLM_BENCH_DIR'] ?? 'runs/bench';
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const UP_TO_DEDUP = STAGES.slice(0, STAGES.findIndex((s) => s.name === 'dedup') + 1);
const BEFORE_DEDUP = UP_TO_DEDUP.slice(0, -1);

interface Truth {
  original: number[];
  editKind: number[];
  editedWords: number[];
  /** Words of each document's first turn. */
  words: number[];
  template: number[];
  /** Real corpus: turns with a natural near-duplicate, left without planted copies. */
  unplanted?: number;
}

/**
 * Representations compared on the real-text corpus; the first is the default. The
 * templated-prompt rule is off here: 15 planted copies per turn make each family of
 * re-sent prompts (one user's six versions of one request) a template by the rule's own
 * definition, which would measure the plant, not near-dup. The synthetic corpus measures it.
 */
const VARIANTS: Record<string, string> = {
  'default (word edit similarity >= 0.9, keeper linkage)': '{templates: {enabled: false}}',
  'word edit similarity >= 0.85': '{templates: {enabled: false}, near: {threshold: 0.85}}',
  'word edit similarity >= 0.93 (one word in a prompt of 15 or more)': '{templates: {enabled: false}, near: {threshold: 0.93}}',
  'word edit similarity >= 0.95': '{templates: {enabled: false}, near: {threshold: 0.95}}',
  'word edit similarity >= 0.9, single linkage (transitive clusters)': '{templates: {enabled: false}, near: {linkage: single}}',
};

const tagDir = (tag: string) => join(BENCH_DIR, tag);
const corpusFile = (corpus: string) => join(BENCH_DIR, `${corpus}.parquet`);
const truthFile = (corpus: string) => join(BENCH_DIR, `${corpus}.truth.json`);

function pipeline(corpus: string, tag: string, dedup: string) {
  const d = tagDir(tag);
  const yaml = `name: ${tag}\nrun_dir: ${d}/runs\nout_dir: ${d}/out\nsources:\n  - {name: wc, type: wildchat, files: [${corpusFile(corpus)}]}\nstages:\n  filter: {languages: []}\n  dedup: ${dedup}\n`;
  return parsePipeline(yaml, `${tag}.yaml`);
}

async function prepare(corpus: string): Promise<void> {
  await mkdir(BENCH_DIR, { recursive: true });
  if (corpus === 'real') {
    const c = await buildRealCorpus();
    await rm(corpusFile(corpus), { force: true });
    await writeCorpusParquet(c, corpusFile(corpus));
    const t: Truth = { original: c.original, editKind: c.editKind, editedWords: c.editedWords, words: c.texts.map(countWords), template: c.texts.map(() => 0), unplanted: c.unplanted };
    await writeFile(truthFile(corpus), JSON.stringify(t));
  } else {
    const n = Number(corpus.split('-')[1]);
    const c = generateCorpus(n);
    await writeCorpusParquet(c, corpusFile(corpus));
    const t: Truth = {
      original: [...c.original],
      editKind: [...c.editKind],
      editedWords: [...c.editedWords],
      words: c.firstTurns.map((x) => x.split(' ').length),
      template: [...c.template],
    };
    await writeFile(truthFile(corpus), JSON.stringify(t));
  }
}

/** normalize and filter once per corpus and variant, so that the measured run is dedup alone. */
async function before(corpus: string, tag: string, dedup: string): Promise<void> {
  await rm(tagDir(tag), { recursive: true, force: true });
  await runPipeline(pipeline(corpus, tag, dedup), BEFORE_DEDUP, { log: silentLogger });
}

async function stage(corpus: string, tag: string, dedup: string): Promise<Record<string, number>> {
  const p = pipeline(corpus, tag, dedup);
  const pre = await runPipeline(p, BEFORE_DEDUP, { log: silentLogger });
  const input = join(stageDir(p.config.run_dir, { name: pre.markers.at(-1)!.stage }), DATA_FILE);
  // The DuckDB floor: read the dedup stage's input and write the same rows, in this process.
  const db = await Db.open();
  const floorOut = join(tagDir(tag), 'floor.parquet');
  const fc0 = process.cpuUsage();
  const f0 = performance.now();
  try {
    await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(input)})) TO ${sqlString(floorOut)} (FORMAT parquet, COMPRESSION zstd)`);
  } finally {
    db.close();
  }
  const floor = (performance.now() - f0) / 1000;
  const floorCpu = process.cpuUsage(fc0);
  await rm(floorOut, { force: true });
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const rss0 = rssMb();
  const t0 = performance.now();
  const r = await runPipeline(p, UP_TO_DEDUP, { log: silentLogger });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const m = r.markers.at(-1)!;
  if (r.executed.at(-1) !== 'dedup') throw new Error('the dedup stage did not run');
  return {
    docs: m.conversations_in,
    rows_out: m.conversations_out,
    stage_s: m.seconds,
    wall_s: Math.round(wall * 100) / 100,
    cpu_s: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
    floor_s: Math.round(floor * 100) / 100,
    floor_cpu_s: Math.round(((floorCpu.user + floorCpu.system) / 1e6) * 100) / 100,
    load_before: Math.round(load0 * 100) / 100,
    load_after: Math.round(loadavg()[0]! * 100) / 100,
    peak_rss_mb: rssMb(),
    rss_before_mb: rss0,
  };
}

interface Score {
  recall: Record<string, [number, number]>;
  recallByLength: Record<string, Record<string, [number, number]>>;
  recallByKind: Record<string, Record<string, [number, number]>>;
  dropped: number;
  correct: number;
  /** Drops that join a keeper outside their family whose text is the same after normalization. */
  naturalExact: number;
  /** Drops that join a keeper outside their family within 10% of its words (by the bench's own count). */
  naturalNear: number;
  templatedFlagged: number;
  templatedRight: number;
  templateInstances: number;
  filtered: number;
}

async function score(corpus: string, tag: string, dedup: string): Promise<Score> {
  const t = JSON.parse(await readFile(truthFile(corpus), 'utf8')) as Truth;
  const p = pipeline(corpus, tag, dedup);
  const r = await runPipeline(p, UP_TO_DEDUP, { log: silentLogger });
  const dir = stageDir(p.config.run_dir, { name: r.markers.at(-1)!.stage });
  const n = t.original.length;
  const cluster = new Int32Array(n).fill(-1);
  const templated = new Uint8Array(n);
  const dropReason = new Array<string | undefined>(n);
  const db = await Db.open();
  try {
    const idx = (col: string) => `CAST(regexp_extract(${col}, '^wc:h([0-9]+):', 1) AS INTEGER)`;
    const rows = await db.all<{ i: number; c: number; templated: boolean; reason: string | null }>(
      `WITH c AS (SELECT conversation_id, cluster_id, templated FROM read_parquet(${sqlString(join(dir, CLUSTERS_FILE))})),
            d AS (SELECT * FROM read_parquet(${sqlString(join(dir, DROPS_FILE))}))
       SELECT ${idx('c.conversation_id')} AS i, ${idx('c.cluster_id')} AS c, c.templated, d.reason
       FROM c LEFT JOIN d USING (conversation_id)
       UNION ALL
       SELECT ${idx('d.conversation_id')}, ${idx('c.cluster_id')}, false, d.reason
       FROM d JOIN c ON c.conversation_id = d.duplicate_of WHERE d.reason = 'exact_duplicate'`,
    );
    for (const x of rows) {
      cluster[x.i] = x.c;
      templated[x.i] = x.templated ? 1 : 0;
      dropReason[x.i] = x.reason ?? undefined;
    }
    const s: Score = { recall: {}, recallByLength: {}, recallByKind: {}, dropped: 0, correct: 0, naturalExact: 0, naturalNear: 0, templatedFlagged: 0, templatedRight: 0, templateInstances: 0, filtered: 0 };
    const add = (m: Record<string, [number, number]>, k: string, hit: boolean) => {
      const v = (m[k] ??= [0, 0]);
      v[0] += hit ? 1 : 0;
      v[1]++;
    };
    for (let i = 0; i < n; i++) {
      const o = t.original[i]!;
      if (o < 0) continue;
      if (cluster[i]! < 0 || cluster[o]! < 0) {
        s.filtered++;
        continue;
      }
      const hit = cluster[i] === cluster[o] && dropReason[i] !== 'templated_prompt' && dropReason[o] !== 'templated_prompt';
      const rate = rateBucket(t.editedWords[i]!, t.words[o]!);
      add(s.recall, rate, hit);
      add((s.recallByLength[rate] ??= {}), lengthBucket(t.words[o]!), hit);
      add((s.recallByKind[rate] ??= {}), EDIT_KINDS[t.editKind[i]!]!, hit);
    }
    const family = (x: number) => (t.original[x]! >= 0 ? t.original[x]! : x);
    const wrong: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      if (templated[i] && dropReason[i] === 'templated_prompt') {
        s.templatedFlagged++;
        if (t.template[i]! > 0) s.templatedRight++;
      }
      if (t.template[i]! > 0) s.templateInstances++;
      if (dropReason[i] !== 'near_duplicate' && dropReason[i] !== 'exact_duplicate') continue;
      s.dropped++;
      if (family(i) === family(cluster[i]!)) s.correct++;
      else wrong.push([i, cluster[i]!]);
    }
    // A drop outside its own family is right when the dropped text and its keeper's are the
    // same after normalization (natural exact duplicates: a user re-sending a prompt, or a
    // short plant edited into another text, "lo lo mi" -> "lo lo lo"). Within 10% of the
    // words (counted here on whitespace words, not by the stage's code) it is a natural
    // near-duplicate: printed apart, and wrong in the strict precision.
    if (wrong.length) {
      const need = [...new Set(wrong.flat())];
      const texts = new Map<number, string>();
      for (let k = 0; k < need.length; k += 5000) {
        const part = need.slice(k, k + 5000);
        const got = await db.all<{ i: number; t: string }>(
          `SELECT CAST(substr(conversation_hash, 2) AS INTEGER) AS i, conversation[1].content AS t FROM read_parquet(${sqlString(corpusFile(corpus))})
           WHERE CAST(substr(conversation_hash, 2) AS INTEGER) IN (SELECT unnest($ids::INTEGER[]))`,
          { ids: `[${part.join(',')}]` },
        );
        for (const g of got) texts.set(g.i, g.t);
      }
      for (const [a, b] of wrong) {
        const r = wordEditRatio(texts.get(a)!, texts.get(b)!);
        if (r === 0) {
          s.naturalExact++;
          s.correct++;
        } else if (r <= 0.1) {
          s.naturalNear++;
          if (process.env['USERLM_BENCH_SHOW_WRONG']) process.stderr.write(`natural near-duplicate (${r.toFixed(3)}): ${JSON.stringify(texts.get(a)!.slice(0, 150))} / ${JSON.stringify(texts.get(b)!.slice(0, 150))}\n`);
        } else if (process.env['USERLM_BENCH_SHOW_WRONG']) process.stderr.write(`wrong merge: ${JSON.stringify(texts.get(a)!.slice(0, 150))} / ${JSON.stringify(texts.get(b)!.slice(0, 150))}\n`);
      }
    }
    return s;
  } finally {
    db.close();
  }
}

function child(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench step ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const pct = ([h, t]: [number, number]) => (t ? `${(h / t).toFixed(3)} (${h}/${t})` : '-');

function printScore(s: Score, templates: boolean): void {
  const rates = ['0% (exact, case, punctuation)', '<=5%', '5-10%', '>10%'];
  for (const rate of rates) {
    if (!s.recall[rate]) continue;
    process.stdout.write(`  recall, ${rate} of words edited: ${pct(s.recall[rate]!)}\n`);
    process.stdout.write(`    by first-turn length (words): ${LENGTH_BUCKETS.filter((b) => s.recallByLength[rate]![b]).map((b) => `${b}: ${pct(s.recallByLength[rate]![b]!)}`).join(', ')}\n`);
    process.stdout.write(`    by edit: ${Object.entries(s.recallByKind[rate]!).map(([k, v]) => `${k}: ${pct(v)}`).join(', ')}\n`);
  }
  const d = Math.max(1, s.dropped);
  process.stdout.write(
    `  precision ${(s.correct / d).toFixed(4)} over ${s.dropped} exact + near drops: right when a drop joins its own original or a text equal after normalization ` +
      `(${s.naturalExact} natural exact duplicates); ${s.naturalNear} join a natural near-duplicate (another text within 10% of its words), counted wrong here ` +
      `(${((s.correct + s.naturalNear) / d).toFixed(4)} if they count as right)\n`,
  );
  if (templates)
    process.stdout.write(
      `  templated rule: precision ${(s.templatedRight / Math.max(1, s.templatedFlagged)).toFixed(4)} (${s.templatedRight}/${s.templatedFlagged} flagged), recall ${(s.templatedRight / Math.max(1, s.templateInstances)).toFixed(4)} of ${s.templateInstances} instances\n`,
    );
  if (s.filtered) process.stdout.write(`  (${s.filtered} planted pairs not scored: the filter stage dropped one side)\n`);
}

function printStage(m: Record<string, unknown>): void {
  const docs = Number(m['docs']);
  const cores = availableParallelism();
  const secs = Number(m['stage_s']);
  process.stdout.write(
    `  dedup stage (exact + templates + near, read input, write data, drops, clusters, report): ${secs}s for ${docs.toLocaleString('en-US')} conversations = ` +
      `${Math.round(docs / secs).toLocaleString('en-US')} docs/s; CPU ${m['cpu_s']}s (all threads); peak RSS ${m['peak_rss_mb']} MB\n` +
      `  DuckDB floor (read the stage's input, write the same rows): ${m['floor_s']}s, CPU ${m['floor_cpu_s']}s; stage / floor = ${(secs / Number(m['floor_s'])).toFixed(2)} (wall), ` +
      `${(Number(m['cpu_s']) / Number(m['floor_cpu_s'])).toFixed(2)} (CPU); ${cores} cores, 1-minute load average ${m['load_before']} before the stage, ${m['load_after']} after\n`,
  );
}

export async function benchDedup(sizes = [1_000_000]): Promise<void> {
  process.stdout.write(`\n== dedup on real WildChat user turns with planted copies (${'test/fixtures/wildchat-1m-sample50.parquet'}) ==\n`);
  child(['prepare', 'real']);
  const truth = JSON.parse(await readFile(truthFile('real'), 'utf8')) as Truth;
  const originals = truth.original.filter((x) => x < 0).length;
  process.stdout.write(
    `${originals} user turns, ${truth.original.length - originals} planted copies; ${truth.unplanted} turns have a natural near-duplicate (another turn within 20% of their words) and get no copies, so each copy has one right keeper\n`,
  );
  for (const [name, dedup] of Object.entries(VARIANTS)) {
    const tag = `real-${Object.keys(VARIANTS).indexOf(name)}`;
    child(['before', 'real', tag, dedup]);
    const m = child(['stage', 'real', tag, dedup]);
    process.stdout.write(`${name} (${dedup}): ${Number(m['docs'])} conversations\n`);
    printScore(child(['score', 'real', tag, dedup]) as unknown as Score, false);
  }
  for (const n of sizes) {
    const corpus = `synthetic-${n}`;
    process.stdout.write(`\n== dedup on ${n.toLocaleString('en-US')} synthetic WildChat-shaped conversations ==\n`);
    const g0 = performance.now();
    child(['prepare', corpus]);
    child(['before', corpus, corpus, '{}']);
    process.stdout.write(`corpus, normalize and filter ready (${((performance.now() - g0) / 1000).toFixed(1)}s)\n`);
    printStage(child(['stage', corpus, corpus, '{}']));
    printScore(child(['score', corpus, corpus, '{}']) as unknown as Score, true);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, corpus, tag, dedup] = process.argv.slice(2);
  const run = async (): Promise<unknown> => {
    if (mode === 'prepare') return prepare(corpus!).then(() => ({}));
    if (mode === 'before') return before(corpus!, tag!, dedup!).then(() => ({}));
    if (mode === 'stage') return stage(corpus!, tag!, dedup!);
    if (mode === 'score') return score(corpus!, tag!, dedup!);
    await benchDedup(corpus ? [Number(corpus)] : undefined);
    return undefined;
  };
  run()
    .then((v) => v !== undefined && process.stdout.write(JSON.stringify(v) + '\n'))
    .catch((e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exitCode = 1;
    });
}
