// make bench: near-duplicate removal on a synthetic WildChat-shaped corpus. Each step runs
// in its own process so that peak RSS belongs to that step alone.
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePipeline } from '../config/load-pipeline.js';
import { Db, sqlString } from '../core/db.js';
import { silentLogger } from '../core/logger.js';
import { exactJaccard } from '../stages/dedup/minhash-signature.js';
import { lshClusters } from '../stages/dedup/lsh-clusters.js';
import { FIRST_USER_TURN_SQL } from '../stages/conversation-sql.js';
import { findNearDuplicates, lshShape, NEAR_RESULT_COLUMNS, resolveWorkers } from '../stages/dedup/near-dedup.js';
import { sketchDocuments } from '../stages/dedup/sketch-documents.js';
import { templatedDocuments } from '../stages/dedup/template-filter.js';
import { shingleHashes } from '../stages/dedup/shingle-hashes.js';
import { wordHashes } from '../stages/dedup/word-hashes.js';
import { buildDataset } from '../stages/recipe.js';
import { generateCorpus, writeCorpusParquet } from './synthetic-corpus.js';

const BENCH_DIR = process.env['USERLM_BENCH_DIR'] ?? 'runs/bench';
const corpusPath = (n: number) => join(BENCH_DIR, `corpus-${n}.parquet`);
const truthPath = (n: number) => join(BENCH_DIR, `corpus-${n}.truth.json`);
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

const NEAR = {
  enabled: true, text: 'first_user_turn' as const, ngram: 5, min_words: 5, num_perm: 128, method: 'oph' as const,
  threshold: 0.7, bands: null, rows: null, verify: true, workers: null,
};
const TEMPLATES = { enabled: true, ngram: 7, max_others: 100 };

async function gen(n: number): Promise<void> {
  const c = generateCorpus(n);
  await writeCorpusParquet(c, corpusPath(n));
  await writeFile(truthPath(n), JSON.stringify({ original: [...c.original], editRate: [...c.editRate], template: [...c.template] }));
}

async function measure(n: number, method: 'oph' | 'kperm'): Promise<Record<string, number | string>> {
  const truth = JSON.parse(await readFile(truthPath(n), 'utf8')) as { original: number[]; editRate: number[]; template: number[] };
  const db = await Db.open();
  try {
    const t0 = performance.now();
    await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(corpusPath(n))})) TO ${sqlString(join(BENCH_DIR, `floor-${n}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`);
    const floor = (performance.now() - t0) / 1000;
    await rm(join(BENCH_DIR, `floor-${n}.parquet`), { force: true });
    await db.run(
      `CREATE TEMP VIEW docs AS SELECT 'wc:' || conversation_hash AS conversation_id, timestamp, conversation AS messages FROM read_parquet(${sqlString(corpusPath(n))})`,
    );
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    await db.run(`CREATE OR REPLACE TABLE near_result (${NEAR_RESULT_COLUMNS})`);
    const stats = await findNearDuplicates(db, 'docs', 'near_result', { near: { ...NEAR, method }, templates: TEMPLATES }, 1234, silentLogger);
    const dedupSeconds = (performance.now() - t1) / 1000;
    // CPU time of all threads: robust to other load on the machine, unlike wall time.
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const peak = rssMb();
    // The core alone: signatures (2 workers), templates, LSH and clusters over texts already
    // in memory, i.e. without DuckDB's read, which the floor above measures.
    const inMemory = (await db.all<{ t: string }>(`SELECT ${FIRST_USER_TURN_SQL} AS t FROM docs ORDER BY timestamp, conversation_id`)).map((r) => r.t);
    const { bands, rows } = lshShape({ ...NEAR, method });
    const c0 = performance.now();
    async function* fromMemory() {
      for (let i = 0; i < inMemory.length; i += 8192) yield { texts: inMemory.slice(i, i + 8192) };
    }
    const sk = await sketchDocuments(
      fromMemory(),
      n,
      { ngram: NEAR.ngram, numPerm: NEAR.num_perm, seed: 1234, method, templateNgram: TEMPLATES.ngram, templateMaxPerDoc: 512, bands, rows },
      resolveWorkers(null),
    );
    const c1 = performance.now();
    const tpl = templatedDocuments(sk.templates, sk.templateOffsets, n, TEMPLATES.max_others);
    const eligible = new Uint8Array(n);
    for (let i = 0; i < n; i++) eligible[i] = !tpl.templated[i] && sk.words[i]! >= NEAR.min_words ? 1 : 0;
    const c2 = performance.now();
    lshClusters(sk.signatures, n, { numPerm: NEAR.num_perm, bands, rows, threshold: NEAR.threshold, verify: true, eligible, bandKeys: sk.bandKeys });
    const c3 = performance.now();
    const coreSeconds = (c3 - c0) / 1000;
    // Quality against the plant. Index i is conversation h<i>.
    const res = await db.all<{ i: number; k: number; templated: boolean }>(
      `SELECT CAST(substr(conversation_id, 5) AS INTEGER) AS i, CAST(substr(keeper_id, 5) AS INTEGER) AS k, templated FROM near_result`,
    );
    const keeper = new Int32Array(n);
    const templated = new Uint8Array(n);
    for (const r of res) {
      keeper[r.i] = r.k;
      templated[r.i] = r.templated ? 1 : 0;
    }
    const family = (x: number) => (truth.original[x]! >= 0 ? truth.original[x]! : x);
    const firsts = new Map<number, string>();
    const planted = truth.original.flatMap((o, i) => (o >= 0 ? [i, o] : []));
    const texts = await db.all<{ i: number; t: string }>(
      `SELECT CAST(substr(conversation_hash, 2) AS INTEGER) AS i, conversation[1].content AS t FROM read_parquet(${sqlString(corpusPath(n))})
       WHERE CAST(substr(conversation_hash, 2) AS INTEGER) IN (SELECT unnest($ids::INTEGER[]))`,
      { ids: `[${[...new Set(planted)].join(',')}]` },
    );
    for (const r of texts) firsts.set(r.i, r.t);
    let pairs = 0;
    let found = 0;
    for (let i = 0; i < n; i++) {
      const o = truth.original[i]!;
      if (o < 0) continue;
      const a = shingleHashes(wordHashes(firsts.get(i)!), 5).slice();
      const b = shingleHashes(wordHashes(firsts.get(o)!), 5).slice();
      if (wordHashes(firsts.get(o)!).length < NEAR.min_words || exactJaccard(a, b) < 0.8) continue;
      pairs++;
      if (keeper[i] === keeper[o]) found++;
    }
    let dropped = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      if (templated[i] || keeper[i] === i) continue;
      dropped++;
      if (family(i) === family(keeper[i]!)) correct++;
    }
    const instances = truth.template.filter((t) => t > 0).length;
    const flagged = truth.template.filter((t, i) => t > 0 && templated[i]).length;
    const wrongFlags = truth.template.filter((t, i) => t === 0 && templated[i]).length;
    return {
      method,
      docs: n,
      duckdb_floor_s: round(floor),
      dedup_s: round(dedupSeconds),
      sketch_s: stats.seconds_sketch,
      templates_s: stats.seconds_templates,
      cluster_s: stats.seconds_cluster,
      docs_per_s: Math.round(n / dedupSeconds),
      core_s: round(coreSeconds),
      core_docs_per_s: Math.round(n / coreSeconds),
      core_parts: `signatures ${round((c1 - c0) / 1000)}s, templates ${round((c2 - c1) / 1000)}s, LSH+clusters ${round((c3 - c2) / 1000)}s`,
      cpu_s: round(cpuSeconds),
      docs_per_cpu_s: Math.round(n / cpuSeconds),
      peak_rss_mb: peak,
      workers: stats.workers,
      lsh: `${stats.bands}x${stats.rows}`,
      pairs_j_ge_0_8: pairs,
      recall_j_ge_0_8: round(found / Math.max(1, pairs), 4),
      near_dropped: dropped,
      precision: round(correct / Math.max(1, dropped), 4),
      templated_recall: round(flagged / Math.max(1, instances), 4),
      templated_false: wrongFlags,
    };
  } finally {
    db.close();
  }
}

async function e2e(n: number): Promise<Record<string, number | string>> {
  const dir = join(BENCH_DIR, `e2e-${n}`);
  await rm(dir, { recursive: true, force: true });
  const yaml = `name: bench\nrun_dir: ${dir}/runs\nout_dir: ${dir}/out\nsources:\n  - {name: wc, type: wildchat, files: [${corpusPath(n)}]}\n`;
  const t0 = performance.now();
  const r = await buildDataset(parsePipeline(yaml, 'bench.yaml'), silentLogger);
  const secs = (performance.now() - t0) / 1000;
  await rm(dir, { recursive: true, force: true });
  return {
    docs: n,
    pipeline_s: round(secs),
    per_stage_s: r.markers.map((m) => `${m.stage}=${m.seconds}`).join(' '),
    samples: r.markers.at(-1)!.samples_out ?? 0,
    peak_rss_mb: rssMb(),
  };
}

function round(x: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function child(args: string[]): Record<string, number | string> {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench step ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

export async function benchDedup(sizes = [100_000, 1_000_000]): Promise<void> {
  for (const n of sizes) {
    process.stdout.write(`\n== near-dup dedup, ${n.toLocaleString('en-US')} synthetic conversations (first user turn) ==\n`);
    const g0 = performance.now();
    child(['gen', String(n)]);
    process.stdout.write(`corpus ready (${((performance.now() - g0) / 1000).toFixed(1)}s, cached in ${corpusPath(n)})\n`);
    for (const method of ['oph', 'kperm'] as const) {
      if (method === 'kperm' && n > 100_000) continue;
      const m = child(['measure', String(n), method]);
      process.stdout.write(
        `${method}: signatures + LSH + clustering, texts in memory: ${m['core_s']}s = ${Number(m['core_docs_per_s']).toLocaleString('en-US')} docs/s on ${m['workers']} workers (${m['core_parts']})\n` +
          `  in the stage (read from DuckDB, sketch, cluster, write back): ${m['dedup_s']}s = ${Number(m['docs_per_s']).toLocaleString('en-US')} docs/s ` +
          `(sketch ${m['sketch_s']}s incl. DuckDB read, templates ${m['templates_s']}s, LSH+clusters ${m['cluster_s']}s), peak RSS ${m['peak_rss_mb']} MB, LSH ${m['lsh']}\n` +
          `  CPU ${m['cpu_s']}s over all threads = ${Number(m['docs_per_cpu_s']).toLocaleString('en-US')} docs per CPU-second (wall time depends on what else the machine runs; this does not)\n` +
          `  recall ${m['recall_j_ge_0_8']} over ${m['pairs_j_ge_0_8']} planted pairs with Jaccard >= 0.8; precision ${m['precision']} over ${m['near_dropped']} drops; ` +
          `templated recall ${m['templated_recall']}, false template flags ${m['templated_false']}\n` +
          `  DuckDB floor (read corpus, write Parquet): ${m['duckdb_floor_s']}s; dedup / floor = ${(Number(m['dedup_s']) / Number(m['duckdb_floor_s'])).toFixed(2)}\n`,
      );
    }
    const e = child(['e2e', String(n)]);
    process.stdout.write(`end-to-end pipeline: ${e['pipeline_s']}s (${e['per_stage_s']}), ${e['samples']} samples, peak RSS ${e['peak_rss_mb']} MB\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, nArg, method] = process.argv.slice(2);
  const n = Number(nArg);
  const run = async () => {
    if (mode === 'gen') {
      await gen(n);
      process.stdout.write('{}\n');
    }
    else if (mode === 'measure') process.stdout.write(JSON.stringify(await measure(n, (method as 'oph' | 'kperm') ?? 'oph')) + '\n');
    else if (mode === 'e2e') process.stdout.write(JSON.stringify(await e2e(n)) + '\n');
    else await benchDedup(nArg ? [n] : undefined);
  };
  run().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  });
}
