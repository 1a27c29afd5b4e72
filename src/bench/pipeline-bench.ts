import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Db, sqlString } from '../core/db.js';
import { MARKER_FILE, type StageMarker } from '../core/marker.js';
import { stageDir } from '../core/runner.js';
import { corpusStats, formatStats, REALISTIC_CORPUS_VERSION, writeRealisticCorpus } from './realistic-corpus.js';
import { REAL_ROWS } from './realtext-corpus.js';
import type { DedupNotes } from '../stages/dedup/dedup-stage.js';

// The whole pipeline (no LLM: template intents; every language kept) on the realistic corpus,
// against the DuckDB floor on the same files measured in the same run: read + rewrite to
// zstd Parquet, and the flip as one SQL statement written to Parquet. Each runs in its own
// child process, so its CPU time and peak RSS (DuckDB's memory included) are its own.

const STAGES = ['normalize', 'filter', 'dedup', 'intents', 'flip', 'tokenize', 'split', 'shards'];
const TARGET_RATIO = 1.5;
const TARGET_RSS_GIB = 4;
const DEDUP_TARGET_DOCS_S = 100_000;
const INTENT = 'You are a user chatting with an assistant language model to get help with a task.';

interface ChildUsage {
  wall_s: number;
  cpu_s: number;
  /** Peak RSS of the child process (getrusage), bytes. */
  max_rss: number;
  /** Peak of the summed RSS of the child and its descendants, sampled from /proc, bytes. */
  tree_rss: number;
  /** The same peak per pipeline stage (by the child's stage.start log events; 'before' until the first). */
  stage_rss?: Record<string, number>;
  /** Peak bytes under the watched directory (the run's .scratch: DuckDB's spill, stage scratch files) per stage. */
  stage_scratch?: Record<string, number>;
  floor?: { rewrite_s: number; flip_s: number; samples: number };
}

function pipelineYaml(n: number, files: string, runDir: string, outDir: string): string {
  return `# Written by make bench (src/bench/pipeline-bench.ts): the whole pipeline without LLM calls.
name: bench-realistic-${n}
seed: 14
run_dir: ${JSON.stringify(runDir)}
out_dir: ${JSON.stringify(outDir)}
sources:
  - name: wildchat
    type: wildchat
    files: [${JSON.stringify(files)}]
stages:
  filter:
    languages: []            # every language kept
  intents:
    backend: template
`;
}

/** Sum of RSS over pid and its descendants (Linux /proc; 0 elsewhere). */
function treeRss(pid: number): number {
  if (!existsSync('/proc/self/stat')) return 0;
  const children = new Map<number, number[]>();
  let total = 0;
  const rss = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(Number(d));
      rss.set(Number(d), Number(f[21]) * 4096);
    } catch {
      // The process ended while we looked.
    }
  }
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    total += rss.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

/** Bytes of the files under dir (0 when it is absent; files that vanish while counted are skipped). */
function dirBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else {
      try {
        total += statSync(p).size;
      } catch {
        // Removed while we looked.
      }
    }
  }
  return total;
}

/**
 * Run this file as a child (`--child <mode> ...`), sampling its process tree's RSS (and, with
 * scratchDir, that directory's size); its usage comes back in a file.
 */
async function runChild(args: string[], label: string, logFile: string, scratchDir?: string): Promise<ChildUsage> {
  const usageFile = `${logFile}.usage.json`;
  await rm(usageFile, { force: true });
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--enable-source-maps', self, '--child', usageFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: Buffer[] = [];
  // The stage running now, from the JSON log lines ({"event":"stage.start","stage":...}).
  let stage = 'before';
  const partial = { out: '', err: '' };
  const watch = (which: 'out' | 'err') => (b: Buffer) => {
    log.push(b);
    const lines = (partial[which] + b.toString('utf8')).split('\n');
    partial[which] = lines.pop()!;
    for (const l of lines) {
      if (!l.includes('"stage.start"')) continue;
      try {
        stage = (JSON.parse(l) as { stage: string }).stage;
      } catch {
        // Not a log line.
      }
    }
  };
  child.stdout.on('data', watch('out'));
  child.stderr.on('data', watch('err'));
  let peak = 0;
  const stageRss: Record<string, number> = {};
  const stageScratch: Record<string, number> = {};
  const timer = setInterval(() => {
    const r = treeRss(child.pid!);
    peak = Math.max(peak, r);
    stageRss[stage] = Math.max(stageRss[stage] ?? 0, r);
    if (scratchDir) stageScratch[stage] = Math.max(stageScratch[stage] ?? 0, dirBytes(scratchDir));
  }, 250);
  const code: number = await new Promise((res) => child.on('close', (c) => res(c ?? 1)));
  clearInterval(timer);
  await writeFile(logFile, Buffer.concat(log));
  if (code !== 0) {
    const tail = Buffer.concat(log).toString('utf8').split('\n').slice(-15).join('\n');
    throw new Error(`${label} failed (exit ${code}); its output is in ${logFile}:\n${tail}`);
  }
  const u = JSON.parse(await readFile(usageFile, 'utf8')) as ChildUsage;
  return { ...u, tree_rss: Math.max(peak, u.max_rss), stage_rss: stageRss, ...(scratchDir ? { stage_scratch: stageScratch } : {}) };
}

async function childMain(usageFile: string, mode: string, args: string[]): Promise<void> {
  const t = performance.now();
  let floor: ChildUsage['floor'];
  if (mode === 'run') {
    const { main } = await import('../cli/program.js');
    const code = await main([process.execPath, 'userlm-data', 'run', args[0]!, '--json']);
    if (code !== 0) {
      process.exitCode = code;
      return;
    }
  } else if (mode === 'floor') {
    const [glob, dir] = args as [string, string];
    await mkdir(dir, { recursive: true });
    const db = await Db.open({});
    try {
      let s = performance.now();
      await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(glob)})) TO ${sqlString(join(dir, 'rewrite.parquet'))} (FORMAT parquet, COMPRESSION zstd)`);
      const rewrite_s = (performance.now() - s) / 1000;
      s = performance.now();
      // The flip as one statement: K+1 samples per conversation, intent then history, target.
      await db.run(
        `COPY (
           SELECT conversation_hash || ':' || conversation[1].turn_identifier || ':' || k AS sample_id, conversation_hash, k AS turn_index,
                  CASE WHEN k = 1 THEN 'initiation' WHEN k = u + 1 THEN 'termination' ELSE 'interaction' END AS kind,
                  list_prepend({'role': 'system', 'content': ${sqlString(INTENT)}}, list_transform(conversation[1:2 * (k - 1)], m -> {'role': m.role, 'content': m.content})) AS messages,
                  CASE WHEN k <= u THEN conversation[2 * k - 1].content ELSE '<|endconversation|>' END AS target
           FROM (SELECT conversation_hash, conversation, len(conversation) // 2 AS u FROM read_parquet(${sqlString(glob)})), range(1, u + 2) r(k)
         ) TO ${sqlString(join(dir, 'samples.parquet'))} (FORMAT parquet, COMPRESSION zstd)`,
      );
      const flip_s = (performance.now() - s) / 1000;
      const samples = await db.count(`SELECT 1 FROM read_parquet(${sqlString(join(dir, 'samples.parquet'))})`);
      floor = { rewrite_s, flip_s, samples };
    } finally {
      db.close();
    }
  } else throw new Error(`unknown child mode ${mode}`);
  const r = process.resourceUsage();
  const usage: ChildUsage = {
    wall_s: (performance.now() - t) / 1000, cpu_s: (r.userCPUTime + r.systemCPUTime) / 1e6, max_rss: r.maxRSS * 1024, tree_rss: 0, ...(floor ? { floor } : {}),
  };
  await writeFile(usageFile, JSON.stringify(usage));
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * For each size: the corpus (generated once, cached under benchDir), its statistics beside the
 * real rows', the pipeline in a child process, the DuckDB floor in another. Throws (make
 * bench exits non-zero) when a run fails; a missed target prints MISSED.
 */
/** Issue 12's figure: the whole dedup stage as this run ran it, in documents per second, and where its time went. */
function dedupLine(m: StageMarker): string {
  const d = m.notes as DedupNotes;
  const rate = m.conversations_in / m.seconds;
  const near = d.near ? `sketch ${d.near.seconds_sketch.toFixed(1)}, templates ${d.near.seconds_templates.toFixed(1)}, clusters ${d.near.seconds_cluster.toFixed(1)} (${d.near.candidate_pairs.toLocaleString('en-US')} candidate pairs), ` : '';
  return (
    `  dedup stage: ${m.conversations_in.toLocaleString('en-US')} conversations in ${m.seconds.toFixed(1)}s = ${Math.round(rate).toLocaleString('en-US')} docs/s ` +
    `(target >= ${DEDUP_TARGET_DOCS_S.toLocaleString('en-US')}: ${rate >= DEDUP_TARGET_DOCS_S ? 'ok' : 'MISSED'}); seconds: keeper order ${d.seconds_order.toFixed(1)}, ${near}` +
    `data, drops and clusters ${d.seconds_write.toFixed(1)} (decisions ${(d.seconds_decisions ?? 0).toFixed(1)}, data.parquet ${(d.seconds_data ?? 0).toFixed(1)}), report ${d.seconds_report.toFixed(1)}\n`
  );
}

export async function benchPipeline(sizes: number[], benchDir: string): Promise<void> {
  const cores = availableParallelism();
  for (const n of sizes) {
    const base = resolve(benchDir, `realistic-${n}-v${REALISTIC_CORPUS_VERSION}`);
    let t = performance.now();
    const corpus = await writeRealisticCorpus(join(base, 'corpus'), n);
    process.stdout.write(
      corpus.cached
        ? `\nusing the cached ${n.toLocaleString('en-US')}-conversation realistic corpus in ${corpus.dir}\n`
        : `\ngenerated a ${n.toLocaleString('en-US')}-conversation realistic corpus in ${((performance.now() - t) / 1000).toFixed(0)}s (${corpus.files.length} shards, cached in ${corpus.dir})\n`,
    );
    const db = await Db.open({});
    try {
      process.stdout.write(formatStats(await corpusStats(db, corpus.glob), await corpusStats(db, resolve(REAL_ROWS)), n));
    } finally {
      db.close();
    }
    const runDir = join(base, 'run');
    const outDir = join(base, 'out');
    const floorDir = join(base, 'floor');
    await rm(runDir, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
    const yaml = join(base, 'pipeline.yaml');
    await writeFile(yaml, pipelineYaml(n, corpus.glob, runDir, outDir));
    t = performance.now();
    const run = await runChild(['run', yaml], `the pipeline run on ${n} conversations`, join(base, 'pipeline.log'), join(runDir, '.scratch'));
    const markers = STAGES.map((s) => JSON.parse(readFileSync(join(stageDir(runDir, { name: s }), MARKER_FILE), 'utf8')) as StageMarker);
    // The run's files go before the floor writes its own: at 3M the run directory (44 GB), the
    // shards (9.5 GB), the floor's samples (11 GB) and the corpus (11 GB) did not fit on this
    // machine's disk together. The corpus stays cached; USERLM_BENCH_KEEP_RUN=1 keeps run_dir
    // to rerun a stage on it (then the floor needs that much more disk).
    if (!process.env['USERLM_BENCH_KEEP_RUN']) await rm(runDir, { recursive: true, force: true });
    await rm(outDir, { recursive: true, force: true });
    await rm(floorDir, { recursive: true, force: true });
    const floorRun = await runChild(['floor', corpus.glob, floorDir], `the DuckDB floor on ${n} conversations`, join(base, 'floor.log'));
    const f = floorRun.floor!;
    const floor = f.rewrite_s + f.flip_s;
    const ratio = run.wall_s / floor;
    const stageSecs = markers.map((m) => m.seconds);
    const other = run.wall_s - stageSecs.reduce((a, b) => a + b, 0);
    const w = 10;
    process.stdout.write(
      `pipeline on ${n.toLocaleString('en-US')} realistic conversations (template intents, all languages), ${cores} cores:\n` +
        `  ${['stage', ...STAGES, 'other'].map((s) => s.padStart(w)).join('')}\n` +
        `  ${['seconds', ...stageSecs.map((s) => s.toFixed(1)), other.toFixed(1)].map((s) => s.padStart(w)).join('')}\n` +
        `  ${['CPU s', ...markers.map((m) => (m.cpu_seconds ?? 0).toFixed(1))].map((s) => s.padStart(w)).join('')}   (all threads of the process over the stage)\n` +
        `  kept ${markers[markers.length - 1]!.conversations_out.toLocaleString('en-US')} conversations, ${(markers[markers.length - 1]!.samples_out ?? 0).toLocaleString('en-US')} samples\n` +
        `  total ${run.wall_s.toFixed(1)}s; DuckDB floor ${floor.toFixed(1)}s (rewrite to zstd ${f.rewrite_s.toFixed(1)}s + SQL flip ${f.flip_s.toFixed(1)}s, ${f.samples.toLocaleString('en-US')} samples); ` +
        `ratio ${ratio.toFixed(2)}x (target <= ${TARGET_RATIO}x: ${ratio <= TARGET_RATIO ? 'ok' : 'MISSED'})\n` +
        `  pipeline CPU ${run.cpu_s.toFixed(0)}s, utilisation ${((100 * run.cpu_s) / run.wall_s / cores).toFixed(0)}% of ${cores} cores; ` +
        `floor CPU ${floorRun.cpu_s.toFixed(0)}s, ${((100 * floorRun.cpu_s) / floorRun.wall_s / cores).toFixed(0)}%\n` +
        `  peak RSS: pipeline ${gib(run.tree_rss)} (target <= ${TARGET_RSS_GIB} GiB: ${run.tree_rss <= TARGET_RSS_GIB * 2 ** 30 ? 'ok' : 'MISSED'}), floor ${gib(floorRun.tree_rss)}\n` +
        `  ${['peak RSS', ...STAGES].map((s) => s.padStart(w)).join('')}\n` +
        `  ${['GiB', ...STAGES.map((s) => ((run.stage_rss?.[s] ?? 0) / 2 ** 30).toFixed(2))].map((s) => s.padStart(w)).join('')}\n` +
        `  ${['scratch GB', ...STAGES.map((s) => ((run.stage_scratch?.[s] ?? 0) / 1e9).toFixed(1))].map((s) => s.padStart(w)).join('')}   (peak size of run_dir/.scratch: DuckDB's spill and the stages' scratch files)\n` +
        dedupLine(markers[STAGES.indexOf('dedup')]!),
    );
    await rm(floorDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  await childMain(process.argv[3]!, process.argv[4]!, process.argv.slice(5));
}
