import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { sha256Hex } from '../../src/core/hash.js';
import { MARKER_FILE, type StageMarker } from '../../src/core/marker.js';
import { OUT_MARKER } from '../../src/stages/shards/export-dataset.js';
import { CLI, ROOT, samplePipelineYaml, tempDir } from '../helpers.js';
import { startOpenAICompatibleServer, type Fate } from '../servers/openai-compatible-server.js';
// The kill schedule is reproducible from the seed.
import { uniform as prng } from '../../src/core/seeded-random.js';
import { STAGES } from '../../src/stages/recipe.js';

/**
 * What an episode is about. plain: the sample pipeline from nothing (out_dir a directory or a
 * symlink to one). foreign: the pipeline switched to a variant whose shards differ, so that an
 * existing dataset is replaced, with kills drawn over the shards stage and the export, and a
 * user's file put into out_dir between runs or while the export copies. llm: intents from the
 * harness's OpenAI-compatible server, which turns bad mid-run, then is fixed; the previous
 * dataset stays in out_dir until a run replaces it.
 */
export type EpisodeKind = 'plain' | 'foreign' | 'llm';

/** How the endpoint goes bad (see LLM_FATES). */
export type EndpointFault = 'http500' | 'http429' | 'nonsense200' | 'http400' | 'hang' | 'slow' | 'reset';
const LLM_FATES: Record<EndpointFault, Fate> = {
  http500: 'server_error',
  http429: 'rate_limit',
  nonsense200: 'invalid',
  http400: 'bad_request',
  hang: 'hang',
  slow: 'slow',
  reset: 'reset',
};
const FAULTS = Object.keys(LLM_FATES) as EndpointFault[];
/** Faults a request survives only by being retried: past max_retries the stage stops with exit 5. */
const TRANSIENT = new Set<EndpointFault>(['http500', 'http429', 'hang', 'reset']);
/** Faults the invalid-answer guard is for: answered, but no usable intent. */
const UNUSABLE = new Set<EndpointFault>(['nonsense200', 'http400']);

export interface CrashOptions {
  /** How many SIGKILLs to deliver, at least. */
  kills: number;
  seed: number;
  /** After this many kills in an episode its next run may finish, so that every episode's first kills fall anywhere in the pipeline. Default 5. */
  killsPerEpisode?: number;
  /** Shares of foreign and llm episodes (the rest are plain; the first episode always is). Default 0.3 each. */
  shares?: { foreign: number; llm: number };
  /** At least this many episodes of each kind (more episodes are run if need be). Default 0. */
  minEpisodes?: number;
  /** The first llm runs turn bad with these faults, in order, early (after fewer than 100 answers) and unkilled: a short run covers them for sure. */
  forcedFaults?: EndpointFault[];
  /** Foreign runs put a user's file into out_dir mid-export every time until one has (otherwise half the time). */
  forceMidExportDrop?: boolean;
  /**
   * Until this many kills have landed inside a stage, plain runs are killed just after a
   * stage starts (the stage drawn from the seed) instead of at a drawn time: stages have
   * become fast enough that times drawn over a whole run mostly fall in start-up and export.
   */
  minMidStage?: number;
}

export interface CrashReport {
  seed: number;
  kills: number;
  /** Runs that finished before their kill was due (each ends an episode). */
  completions: number;
  /** Kills that landed while a stage was running (its start logged, its end not). */
  midStage: number;
  /** Kills that landed after the last stage had finished (in the export, or just after it). */
  duringExport: number;
  /** Kills per stage that was running when the kill landed. */
  byStage: Record<string, number>;
  /** Finished episodes of each kind. */
  episodes: Record<EpisodeKind, number>;
  foreign: {
    /** Kills in foreign episodes (shards stage or export). */
    kills: number;
    /** Runs that found a user's file in out_dir at their start and stopped with exit 2. */
    refusedAtStart: number;
    /** User's files put into out_dir while the export was copying. */
    droppedMidExport: number;
    /** Of those, runs that then stopped with exit 2 (the file seen under the lock or at the swap). */
    refusedMidExport: number;
    /** Of those, runs that finished with the file kept beside the new dataset (dropped after the swap). */
    keptBesideDataset: number;
  };
  /** Per fault: runs in which the server turned bad, and how they ended. */
  llm: Record<EndpointFault, { turned: number; exit5: number; completed: number; killed: number }> & {
    /** Runs that finished with conversations dropped as intent_invalid/intent_rejected (too few for the guard), then redone by deleting the intents stage. */
    redone: number;
  };
  seconds: number;
}

interface Outcome {
  killed: boolean;
  code: number | null;
  events: { event: string; stage?: string; at: number }[];
  stderr: string;
  /** Milliseconds from the first log line to the exit. */
  workMs: number;
}

/** The API key the harness's children send its server. */
const API_KEY = 'sk-crash-harness';

/**
 * Run the CLI on the pipeline; killMs after its first log line (its work begins after
 * Node and DuckDB have loaded), SIGKILL it. null: let it finish. watch, when given, is
 * called every few milliseconds while the child runs (to act on what it has written).
 */
/** Kill a few milliseconds after the nth stage.start of the run (1-based), instead of at a time. */
interface StageKill {
  nth: number;
  delayMs: number;
}

function runOnce(pipelineFile: string, killMs: number | null, watch?: () => void, inStage?: StageKill): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENAI_API_KEY: API_KEY };
    delete env['OPENAI_BASE_URL'];
    const child = spawn(process.execPath, [CLI, 'run', pipelineFile, '--json'], { stdio: ['ignore', 'ignore', 'pipe'], env });
    const events: Outcome['events'] = [];
    let stderr = '';
    let firstAt = 0;
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    let starts = 0;
    const poll = watch ? setInterval(watch, 3) : undefined;
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderr += line + '\n';
      if (!firstAt) {
        firstAt = performance.now();
        if (killMs !== null) {
          timer = setTimeout(() => {
            killed = child.kill('SIGKILL');
          }, killMs);
        }
      }
      try {
        const e = { ...JSON.parse(line), at: performance.now() - firstAt };
        events.push(e);
        if (inStage && e.event === 'stage.start' && ++starts === inStage.nth) {
          timer = setTimeout(() => {
            killed = child.kill('SIGKILL');
          }, inStage.delayMs);
        }
      } catch {
        // Not a log event (a crash would print text): kept in stderr for the message.
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({ killed: killed && signal === 'SIGKILL', code, events, stderr, workMs: firstAt ? performance.now() - firstAt : 0 });
    });
  });
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out.sort();
}

/** Every file's hash; out_dir's ownership marker (inode numbers, times), report.html (timings) and the names in skip are left out. */
function hashes(dir: string, skip: readonly string[] = []): Record<string, string> {
  return Object.fromEntries(
    walk(dir)
      .filter((f) => f !== OUT_MARKER && f !== 'report.html' && !skip.includes(f))
      .map((f) => [f, sha256Hex(readFileSync(join(dir, f)))]),
  );
}

/**
 * The manifest and the card say how the run that wrote the intents went (requests, retries,
 * cached answers, tokens, cost): a run that met a broken endpoint and was resumed tells a
 * different story than an all-good one. That history is left out of the comparison; the
 * shards, the charts and everything else in both files must be byte-identical.
 */
function withoutLlmHistory(file: string, bytes: Buffer): Buffer {
  if (file === 'manifest.json') {
    const m = JSON.parse(bytes.toString('utf8')) as { stages?: { llm?: Record<string, unknown> }[] };
    for (const st of m.stages ?? []) if (st.llm) st.llm = { model: st.llm['model'], backend: st.llm['backend'], prompt: st.llm['prompt'] };
    return Buffer.from(JSON.stringify(m));
  }
  if (file === 'README.md') return Buffer.from(bytes.toString('utf8').replace(/; the run that wrote them sent [^\n]*/g, ''));
  return bytes;
}

function datasetHashes(dir: string, llm: boolean): Record<string, string> {
  if (!llm) return hashes(dir);
  return Object.fromEntries(Object.keys(hashes(dir)).map((f) => [f, sha256Hex(withoutLlmHistory(f, readFileSync(join(dir, f))))]));
}

/**
 * What must hold at any instant, killed or not: every visible stage directory is complete
 * (its marker lists exactly its files, with their hashes), and out_dir, when present, is a
 * whole dataset (a user's files named in userFiles aside; an out_dir holding only those is
 * no dataset at all). Returns the visible stages' execution ids.
 */
export function checkVisibleState(runs: string, out: string, where: string, userFiles: readonly string[] = []): Map<string, string> {
  const ids = new Map<string, string>();
  if (existsSync(runs)) {
    const present = new Set(readdirSync(runs));
    for (const name of STAGES.map((s) => s.name).filter((n) => present.has(n))) {
      const dir = join(runs, name);
      const markerPath = join(dir, MARKER_FILE);
      if (!existsSync(markerPath)) throw new Error(`${where}: ${name}/ is visible without its ${MARKER_FILE}`);
      const marker = JSON.parse(readFileSync(markerPath, 'utf8')) as StageMarker;
      const listed = Object.fromEntries(marker.files.map((f) => [f.path, f.sha256]));
      const present = hashes(dir);
      delete present[MARKER_FILE];
      if (JSON.stringify(present) !== JSON.stringify(Object.fromEntries(Object.entries(listed).sort()))) {
        throw new Error(`${where}: ${name}/ does not hold exactly the files its marker lists, with their hashes`);
      }
      ids.set(name, marker.execution_id);
    }
  }
  if (existsSync(out) && walk(out).some((f) => !userFiles.includes(f))) {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
    const present = hashes(out, userFiles);
    // The card's chart images are exported with it: every one it links must be there.
    const card = existsSync(join(out, 'README.md')) ? readFileSync(join(out, 'README.md'), 'utf8') : '';
    const charts = [...card.matchAll(/\]\((charts\/[^)]+\.svg)\)/g)].map((m) => m[1]!);
    const want = [...manifest.files.map((f) => f.path), ...charts, 'README.md', 'manifest.json'].sort();
    if (JSON.stringify(Object.keys(present)) !== JSON.stringify(want)) throw new Error(`${where}: out_dir is incomplete or has extra files: ${Object.keys(present).join(', ')}`);
    for (const f of manifest.files) if (present[f.path] !== f.sha256) throw new Error(`${where}: ${f.path} in out_dir differs from its manifest entry`);
  }
  return ids;
}

type Variant = 'plain' | 'shards' | 'llm';

interface Reference {
  file: string;
  want: Record<string, string>;
  /** Milliseconds from the first log line to each stage.done, and to the exit. */
  doneAt: number[];
  workMs: number;
}

/** A user's file, put into out_dir by the foreign episodes; it must survive byte for byte. */
const USER_FILE = 'thesis.tex';
const USER_BYTES = Buffer.from('\\documentclass{article} % years of work, not the tool\'s\n\u00e9\u0000\n');

/**
 * The crash test: the sample pipeline runs in a child process that is SIGKILLed at seeded
 * random moments of its work; each kill is followed by a rerun (itself killed, up to
 * killsPerEpisode times, until one finishes, which ends an episode). After every kill the
 * visible state must be whole; a stage whose marker was visible must never run again (same
 * execution_id to the end); every episode must end in exactly the bytes of an uninterrupted
 * run of its pipeline, with no leftovers. Episodes are of three kinds (EpisodeKind): from
 * nothing; replacing a dataset while a user puts files into out_dir; and with an LLM endpoint
 * that turns bad mid-run.
 */
export async function runCrashTest(o: CrashOptions): Promise<CrashReport> {
  const started = performance.now();
  const dir = tempDir('userlm-crash-');
  const runs = join(dir, 'runs');
  const out = join(dir, 'out');
  // The endpoint of the llm episodes: good until an attempt arms a fault, which it then
  // serves to every request after `after` more answers, until the harness fixes it.
  const mode: { fault: EndpointFault | null; after: number; base: number; turned: boolean } = { fault: null, after: 0, base: 0, turned: false };
  let answered = 0;
  const server = await startOpenAICompatibleServer({
    lifetimeMs: 6 * 3_600_000,
    onAnswered: (n) => (answered = n),
    script: () => {
      if (!mode.fault || answered - mode.base < mode.after) return null;
      mode.turned = true;
      return LLM_FATES[mode.fault];
    },
  });
  try {
    return await crashEpisodes(o, dir, runs, out, server.url, mode, () => answered, started);
  } finally {
    await server.close();
  }
}

async function crashEpisodes(
  o: CrashOptions,
  dir: string,
  runs: string,
  out: string,
  serverUrl: string,
  mode: { fault: EndpointFault | null; after: number; base: number; turned: boolean },
  answered: () => number,
  started: number,
): Promise<CrashReport> {
  const llmIntents = {
    backend: 'openai',
    model: 'gpt-4o',
    prompt: join(ROOT, 'pipelines', 'prompts', 'intent-v1.yaml'),
    base_url: serverUrl,
    concurrency: 8,
    // Fail fast: a broken endpoint costs three tries of 0.5 s at most per request.
    max_retries: 2,
    backoff_initial_ms: 5,
    backoff_max_ms: 20,
    timeout_s: 0.5,
  };
  const files: Record<Variant, string> = {
    plain: join(dir, 'pipeline.yaml'),
    // Differs in the shards stage only: switching to it replaces the dataset in out_dir after one stage.
    shards: join(dir, 'pipeline-shards.yaml'),
    llm: join(dir, 'pipeline-llm.yaml'),
  };
  writeFileSync(files.plain, samplePipelineYaml(dir));
  writeFileSync(files.shards, samplePipelineYaml(dir, 'stages:\n  shards: {max_rows_per_shard: 150}\n'));
  writeFileSync(files.llm, samplePipelineYaml(dir, `stages:\n  intents: ${JSON.stringify(llmIntents)}\n`));
  // out_dir is, per episode (from a generator of its own, so that the kill schedule of a seed
  // stays what it was), a plain directory or a symlink to one elsewhere; beside it lie a
  // user's folders named like the tool's leftovers, which no kill or rerun may touch.
  const real = join(dir, 'elsewhere');
  const decoys = [join(dir, 'out.old-999999'), join(dir, 'out.tmp-999998'), join(real, 'out.old-999997')];
  for (const d of decoys) {
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'keep.txt'), 'a user file');
  }
  const checkDecoys = (where: string) => {
    for (const d of decoys) if (!existsSync(join(d, 'keep.txt'))) throw new Error(`${where}: ${d}/keep.txt (not the tool's) was deleted`);
  };
  const kinds = prng(o.seed + 1);
  // Episode kinds, user files and endpoint faults draw from generators of their own too.
  const episodeRandom = prng(o.seed + 2);
  const foreignRandom = prng(o.seed + 3);
  const llmRandom = prng(o.seed + 4);
  const fresh = () => {
    rmSync(runs, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
    rmSync(join(real, 'out'), { recursive: true, force: true });
    if (kinds() < 0.5) symlinkSync(join(real, 'out'), out);
  };
  /** Where out_dir's files are: through the symlink when it is one. */
  const target = () => (lstatSync(out, { throwIfNoEntry: false })?.isSymbolicLink() ? join(real, 'out') : out);

  const references = {} as Record<Variant, Reference>;
  for (const v of ['plain', 'shards', 'llm'] as Variant[]) {
    fresh();
    const r = await runOnce(files[v], null);
    if (r.code !== 0) throw new Error(`the uninterrupted run of ${v} failed (exit ${r.code}):\n${r.stderr}`);
    references[v] = { file: files[v], want: datasetHashes(out, v === 'llm'), doneAt: r.events.filter((e) => e.event === 'stage.done').map((e) => e.at), workMs: r.workMs };
  }
  // Kill moments are drawn over the work a rerun has left (as the uninterrupted run timed
  // it), plus a margin so that the export at the very end is reached too: later reruns of an
  // episode are killed too, instead of mostly finishing.
  const expected = (v: Variant, stagesDone: number) => references[v].workMs - (stagesDone ? references[v].doneAt[stagesDone - 1]! : 0);
  // The machine's speed drifts with its load: every run that finishes before its kill
  // rescales the estimate, so that kills keep landing inside the work, not after it.
  let speed = 1;
  const remaining = (v: Variant, stagesDone: number) => expected(v, stagesDone) * speed * 1.15;

  const random = prng(o.seed);
  const none = () => ({ turned: 0, exit5: 0, completed: 0, killed: 0 });
  const report: CrashReport = {
    seed: o.seed,
    kills: 0,
    completions: 0,
    midStage: 0,
    duringExport: 0,
    byStage: {},
    episodes: { plain: 0, foreign: 0, llm: 0 },
    foreign: { kills: 0, refusedAtStart: 0, droppedMidExport: 0, refusedMidExport: 0, keptBesideDataset: 0 },
    llm: Object.assign(Object.fromEntries(FAULTS.map((f) => [f, none()])) as Record<EndpointFault, ReturnType<typeof none>>, { redone: 0 }),
    seconds: 0,
  };
  const shares = o.shares ?? { foreign: 0.3, llm: 0.3 };
  const minEpisodes = o.minEpisodes ?? 0;
  const perEpisode = o.killsPerEpisode ?? 5;
  const forcedFaults = [...(o.forcedFaults ?? [])];
  const stageNames = STAGES.map((s) => s.name);

  // What is on disk between episodes: the finished dataset of this variant (null: nothing yet).
  let current = null as Variant | null;
  let kind = 'plain' as EpisodeKind;
  let variant = 'plain' as Variant;
  let seen = new Map<string, string>();
  /** Execution ids of stage directories left from the previous variant, which this episode must rerun. */
  let stale = new Set<string>();
  let inEpisode = false;
  let episodeKills = 0;
  let badAttempts = 0;
  /** A user's file is in out_dir (put there by this harness); the next run must refuse to start. */
  let userFilePending = false;
  let madeTargetForUser = false;
  let attempt = 0;
  const pendingMinimum = () => (['plain', 'foreign', 'llm'] as EpisodeKind[]).some((k) => report.episodes[k] < minEpisodes);

  const rescueUserFile = (where: string) => {
    const path = join(target(), USER_FILE);
    if (!existsSync(path) || !readFileSync(path).equals(USER_BYTES)) throw new Error(`${where}: the user's ${path} was lost or changed`);
    // The user does as the refusal says: moves the file out of out_dir.
    rmSync(path);
    if (madeTargetForUser) rmdirSync(target());
    madeTargetForUser = false;
    userFilePending = false;
  };

  const beginEpisode = () => {
    const draw = episodeRandom();
    kind = current === null ? 'plain' : draw < shares.foreign ? 'foreign' : draw < shares.foreign + shares.llm ? 'llm' : 'plain';
    // Kinds still short of minEpisodes come first once the kill budget is spent.
    if (report.kills >= o.kills && current !== null) kind = (['foreign', 'llm', 'plain'] as EpisodeKind[]).find((k) => report.episodes[k] < minEpisodes) ?? kind;
    let valid = 0;
    if (kind === 'plain') {
      variant = 'plain';
      fresh();
    } else if (kind === 'foreign') {
      variant = current === 'shards' ? 'plain' : 'shards';
      // plain and shards share every stage but the last; llm differs from intents on.
      valid = current === 'llm' ? 3 : 7;
    } else {
      variant = 'llm';
      // The previous dataset stays in out_dir; intents and what follows are asked anew (no cache).
      for (const n of stageNames.slice(3)) rmSync(join(runs, n), { recursive: true, force: true });
      rmSync(join(runs, 'cache'), { recursive: true, force: true });
      valid = 3;
    }
    const ids = checkVisibleState(runs, out, `seed ${o.seed}, start of a ${kind} episode`);
    seen = new Map(stageNames.slice(0, valid).filter((n) => ids.has(n)).map((n) => [n, ids.get(n)!]));
    stale = new Set(stageNames.slice(valid).filter((n) => ids.has(n)).map((n) => ids.get(n)!));
    inEpisode = false;
    episodeKills = 0;
    badAttempts = 0;
  };
  beginEpisode();

  while (report.kills < o.kills || inEpisode || pendingMinimum()) {
    attempt++;
    const mayKill = report.kills < o.kills && episodeKills < perEpisode;
    let killMs: number | null = mayKill ? Math.round(random() * remaining(variant, seen.size)) : null;
    // foreign: a user's file put into out_dir between runs (after a kill), or while the export copies.
    if (kind === 'foreign' && !userFilePending && episodeKills > 0 && foreignRandom() < 0.35) {
      const t = target();
      if (!existsSync(t)) {
        mkdirSync(t, { recursive: true });
        madeTargetForUser = true;
      }
      writeFileSync(join(t, USER_FILE), USER_BYTES);
      userFilePending = true;
    }
    const expectRefusal = userFilePending;
    if (expectRefusal) killMs = null;
    let droppedMidExport = false;
    let watch: (() => void) | undefined;
    const dropDraw = kind === 'foreign' && !expectRefusal ? foreignRandom() : 1;
    if (dropDraw < 0.5 || (kind === 'foreign' && !expectRefusal && o.forceMidExportDrop && report.foreign.droppedMidExport === 0)) {
      const t = target();
      const parent = dirname(t);
      const before = new Set(readdirSync(parent));
      watch = () => {
        if (droppedMidExport) return;
        // This run's staging copy (out_dir.tmp-<pid>) has appeared: the export is copying.
        if (!readdirSync(parent).some((n) => n.startsWith(`${basename(t)}.tmp-`) && !before.has(n))) return;
        try {
          writeFileSync(join(t, USER_FILE), USER_BYTES, { flag: 'wx' });
          droppedMidExport = true;
          report.foreign.droppedMidExport++;
        } catch {
          // out_dir is absent (the first export, or between the swap's renames): nowhere to put it.
        }
      };
    }
    // llm: the endpoint may turn bad this run (after a seeded number of answers), a few times per episode.
    mode.fault = null;
    mode.turned = false;
    if (kind === 'llm') {
      const forced = forcedFaults.shift();
      if (forced) {
        mode.fault = forced;
        mode.after = Math.floor(llmRandom() * 100);
        mode.base = answered();
        killMs = null;
      } else if (badAttempts < 3 && llmRandom() < 0.7) {
        mode.fault = FAULTS[Math.floor(llmRandom() * FAULTS.length)]!;
        // 235 conversations reach intents: past that the endpoint is never asked again this run.
        mode.after = Math.floor(llmRandom() * 260);
        mode.base = answered();
        badAttempts++;
      }
      // Half the runs are left to the endpoint: they end by its faults, not by a kill.
      if (!forced && llmRandom() < 0.5) killMs = null;
    }
    const where = `seed ${o.seed}, attempt ${attempt} (${kind} episode, kill at ${killMs ?? 'never'} ms${mode.fault ? `, endpoint ${mode.fault} after ${mode.after} answers` : ''}${expectRefusal ? ', a user file in out_dir' : ''})`;
    const outBefore = existsSync(target()) ? { files: hashes(target(), [USER_FILE]), marker: readFileSync(join(target(), OUT_MARKER), { flag: 'r' }) } : null;
    // Aimed at a stage's start while kills inside stages are short of minMidStage.
    const inStage = kind === 'plain' && killMs !== null && report.midStage < (o.minMidStage ?? 0) ? { nth: 1 + Math.floor(random() * Math.max(1, stageNames.length - seen.size)), delayMs: Math.floor(random() * 5) } : undefined;
    if (inStage) killMs = null;
    const r = await runOnce(files[variant], killMs, watch, inStage);
    const fault = mode.fault;
    const turned = mode.turned;
    // The server is fixed whatever happened.
    mode.fault = null;
    if (!r.killed && killMs !== null && r.code === 0 && !inStage) speed = (speed + r.workMs / expected(variant, seen.size)) / 2;
    for (const e of r.events) {
      if (e.event === 'stage.start' && seen.has(e.stage!)) throw new Error(`${where}: stage ${e.stage} started again although its marker existed`);
    }
    const userFiles = userFilePending || droppedMidExport ? [USER_FILE] : [];
    const ids = checkVisibleState(runs, out, where, userFiles);
    checkDecoys(where);
    for (const [name, id] of seen) {
      if (ids.get(name) !== id) throw new Error(`${where}: ${name} was re-executed or lost (execution_id ${id} -> ${ids.get(name) ?? 'none'})`);
    }
    const keepSeen = () => (seen = new Map([...ids].filter(([, id]) => !stale.has(id))));
    if (fault && turned) report.llm[fault].turned++;

    if (r.killed) {
      report.kills++;
      if (kind === 'foreign') report.foreign.kills++;
      if (fault && turned) report.llm[fault].killed++;
      const starts = r.events.filter((e) => e.event === 'stage.start').length;
      const dones = r.events.filter((e) => e.event === 'stage.done').length;
      keepSeen();
      if (starts > dones) {
        report.midStage++;
        const stage = r.events.filter((e) => e.event === 'stage.start').at(-1)!.stage!;
        report.byStage[stage] = (report.byStage[stage] ?? 0) + 1;
      } else if (seen.size === stageNames.length) report.duringExport++;
      if (droppedMidExport) {
        if (!readFileSync(join(target(), USER_FILE)).equals(USER_BYTES)) throw new Error(`${where}: the user's file put into out_dir mid-export was changed`);
        userFilePending = true;
      }
      inEpisode = true;
      episodeKills++;
      continue;
    }
    if (expectRefusal || (droppedMidExport && r.code === 2)) {
      // A user's file in out_dir: stop with exit 2 naming it, before touching anything.
      if (r.code !== 2 || !r.stderr.includes(USER_FILE)) throw new Error(`${where}: a user's file in out_dir should stop the run with exit 2 naming it (exit ${r.code}):\n${r.stderr}`);
      if (expectRefusal && r.events.some((e) => e.event === 'stage.start')) throw new Error(`${where}: stages ran although out_dir held a user's file`);
      if (expectRefusal) report.foreign.refusedAtStart++;
      else report.foreign.refusedMidExport++;
      rescueUserFile(where);
      keepSeen();
      inEpisode = true;
      continue;
    }
    if (r.code === 5 && fault && turned && fault !== 'slow') {
      // The broken endpoint stopped the run: the documented message, and nothing replaced.
      const message = TRANSIENT.has(fault) ? /a request still failed after 2 retries \(last: .*\); the endpoint is down or overloaded: rerun later/ : /stage intents stopped: .*nothing was written \(an earlier dataset is left as it was\)/;
      if (!message.test(r.stderr)) throw new Error(`${where}: exit 5 without the documented message for ${fault}:\n${r.stderr}`);
      const outAfter = existsSync(target()) ? { files: hashes(target()), marker: readFileSync(join(target(), OUT_MARKER)) } : null;
      if (JSON.stringify(outAfter?.files) !== JSON.stringify(outBefore?.files) || !(outAfter?.marker ?? Buffer.alloc(0)).equals(outBefore?.marker ?? Buffer.alloc(0))) {
        throw new Error(`${where}: the run stopped by the endpoint replaced or changed the previous dataset`);
      }
      if (ids.has('intents') && !seen.has('intents')) throw new Error(`${where}: the intents stage was written although the endpoint stopped it`);
      report.llm[fault].exit5++;
      keepSeen();
      inEpisode = true;
      continue;
    }
    if (r.code !== 0) throw new Error(`${where}: the run failed (exit ${r.code}):\n${r.stderr}`);
    if (fault && turned) report.llm[fault].completed++;
    if (droppedMidExport) {
      report.foreign.keptBesideDataset++;
      rescueUserFile(where);
    }
    if (kind === 'llm') {
      // An endpoint that went bad near the end leaves too few bad answers for the guard: the
      // stage finishes, and the conversations are counted as dropped. The user deletes the
      // stage once the endpoint is fixed; the rerun must ask again, not replay the cached answers.
      const manifest = JSON.parse(readFileSync(join(target(), 'manifest.json'), 'utf8')) as { stages: { name: string; dropped: Record<string, number> }[] };
      const dropped = manifest.stages.find((st) => st.name === 'intents')?.dropped ?? {};
      const count = Object.values(dropped).reduce((a, b) => a + b, 0);
      if (count > 0) {
        const allowed = fault && turned && UNUSABLE.has(fault) && Object.keys(dropped).every((k) => k === 'intent_invalid' || k === 'intent_rejected');
        if (!allowed || count > 25) throw new Error(`${where}: the run finished with intents drops ${JSON.stringify(dropped)} (the guard allows 25 of 50, for unusable answers only)`);
        for (const n of stageNames.slice(3)) rmSync(join(runs, n), { recursive: true, force: true });
        seen = new Map([...seen].filter(([n]) => stageNames.indexOf(n) < 3));
        report.llm.redone++;
        inEpisode = true;
        continue;
      }
    }
    // Finished: the bytes of an uninterrupted run, and nothing left behind.
    const got = datasetHashes(out, variant === 'llm');
    const want = references[variant].want;
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const diff = Object.keys({ ...got, ...want }).filter((k) => got[k] !== want[k]);
      throw new Error(`${where}: out_dir differs from the uninterrupted run's in ${diff.join(', ')}`);
    }
    const leftovers = readdirSync(runs)
      .filter((n) => n.startsWith('.'))
      .concat([dir, real].flatMap((d) => readdirSync(d).filter((n) => /^(out\.(tmp|old)-|\.\.?out\.userlm-data\.lock)/.test(n) && !decoys.includes(join(d, n)))));
    if (leftovers.length) throw new Error(`${where}: leftovers after a finished run: ${leftovers.join(', ')}`);
    report.completions++;
    report.episodes[kind]++;
    current = variant;
    beginEpisode();
  }
  rmSync(dir, { recursive: true, force: true });
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  return report;
}
