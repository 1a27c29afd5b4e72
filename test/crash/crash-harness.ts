import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sha256Hex } from '../../src/core/hash.js';
import { MARKER_FILE, type StageMarker } from '../../src/core/marker.js';
import { OUT_MARKER } from '../../src/stages/shards/export-dataset.js';
import { CLI, samplePipelineYaml, tempDir } from '../helpers.js';
// The kill schedule is reproducible from the seed.
import { uniform as prng } from '../../src/core/seeded-random.js';
import { STAGES } from '../../src/stages/recipe.js';

export interface CrashOptions {
  /** How many SIGKILLs to deliver, at least. */
  kills: number;
  seed: number;
  /** After this many kills in an episode its next run may finish, so that every episode's first kills fall anywhere in the pipeline. Default 5. */
  killsPerEpisode?: number;
}

export interface CrashReport {
  seed: number;
  kills: number;
  /** Runs that finished before their kill was due (each ends an episode). */
  completions: number;
  /** Kills that landed while a stage was running (its start logged, its end not). */
  midStage: number;
  /** Kills that landed after the last stage had finished and before out_dir was in place. */
  duringExport: number;
  /** Kills per stage that was running when the kill landed. */
  byStage: Record<string, number>;
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

/**
 * Run the CLI on the pipeline; killMs after its first log line (its work begins after
 * Node and DuckDB have loaded), SIGKILL it. null: let it finish.
 */
function runOnce(pipelineFile: string, killMs: number | null): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'run', pipelineFile, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const events: Outcome['events'] = [];
    let stderr = '';
    let firstAt = 0;
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
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
        events.push({ ...JSON.parse(line), at: performance.now() - firstAt });
      } catch {
        // Not a log event (a crash would print text): kept in stderr for the message.
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
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

/** Every file's hash; out_dir's ownership marker (inode numbers, times) and report.html (timings) are left out. */
function hashes(dir: string): Record<string, string> {
  return Object.fromEntries(walk(dir).filter((f) => f !== OUT_MARKER && f !== 'report.html').map((f) => [f, sha256Hex(readFileSync(join(dir, f)))]));
}

/**
 * What must hold at any instant, killed or not: every visible stage directory is complete
 * (its marker lists exactly its files, with their hashes), and out_dir, when present, is a
 * whole dataset. Returns the visible stages' execution ids.
 */
export function checkVisibleState(runs: string, out: string, where: string): Map<string, string> {
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
  if (existsSync(out)) {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
    const present = hashes(out);
    // The card's chart images are exported with it: every one it links must be there.
    const card = existsSync(join(out, 'README.md')) ? readFileSync(join(out, 'README.md'), 'utf8') : '';
    const charts = [...card.matchAll(/\]\((charts\/[^)]+\.svg)\)/g)].map((m) => m[1]!);
    const want = [...manifest.files.map((f) => f.path), ...charts, 'README.md', 'manifest.json'].sort();
    if (JSON.stringify(Object.keys(present)) !== JSON.stringify(want)) throw new Error(`${where}: out_dir is incomplete or has extra files: ${Object.keys(present).join(', ')}`);
    for (const f of manifest.files) if (present[f.path] !== f.sha256) throw new Error(`${where}: ${f.path} in out_dir differs from its manifest entry`);
  }
  return ids;
}

/**
 * The crash test: the sample pipeline runs in a child process that is SIGKILLed at seeded
 * random moments of its work; each kill is followed by a rerun (itself killed, up to
 * killsPerEpisode times, until one finishes, which ends an episode; the next episode starts
 * from nothing). After every kill
 * the visible state must be whole; a stage whose marker was visible must never run again
 * (same execution_id to the end); every episode must end in exactly the bytes of an
 * uninterrupted run, with no leftovers.
 */
export async function runCrashTest(o: CrashOptions): Promise<CrashReport> {
  const started = performance.now();
  const dir = tempDir('userlm-crash-');
  const runs = join(dir, 'runs');
  const out = join(dir, 'out');
  const file = join(dir, 'pipeline.yaml');
  writeFileSync(file, samplePipelineYaml(dir));
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
  const fresh = () => {
    rmSync(runs, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
    rmSync(join(real, 'out'), { recursive: true, force: true });
    if (kinds() < 0.5) symlinkSync(join(real, 'out'), out);
  };

  const reference = await runOnce(file, null);
  if (reference.code !== 0) throw new Error(`the uninterrupted run failed (exit ${reference.code}):\n${reference.stderr}`);
  const want = hashes(out);
  // Kill moments are drawn over the work a rerun has left (as the uninterrupted run timed
  // it), plus a margin so that the export at the very end is reached too: later reruns of an
  // episode are killed too, instead of mostly finishing.
  const doneAt = reference.events.filter((e) => e.event === 'stage.done').map((e) => e.at);
  const expected = (stagesDone: number) => reference.workMs - (stagesDone ? doneAt[stagesDone - 1]! : 0);
  // The machine's speed drifts with its load: every run that finishes before its kill
  // rescales the estimate, so that kills keep landing inside the work, not after it.
  let speed = 1;
  const remaining = (stagesDone: number) => expected(stagesDone) * speed * 1.15;
  fresh();

  const random = prng(o.seed);
  const report: CrashReport = { seed: o.seed, kills: 0, completions: 0, midStage: 0, duringExport: 0, byStage: {}, seconds: 0 };
  let seen = new Map<string, string>();
  let inEpisode = false;
  let episodeKills = 0;
  const perEpisode = o.killsPerEpisode ?? 5;
  let attempt = 0;
  while (report.kills < o.kills || inEpisode) {
    attempt++;
    // Once enough kills have landed, let the episode in progress finish.
    const killMs = report.kills < o.kills && episodeKills < perEpisode ? Math.round(random() * remaining(seen.size)) : null;
    const where = `seed ${o.seed}, attempt ${attempt} (kill at ${killMs ?? 'never'} ms)`;
    const r = await runOnce(file, killMs);
    if (!r.killed && killMs !== null) speed = (speed + r.workMs / expected(seen.size)) / 2;
    if (!r.killed && r.code !== 0) throw new Error(`${where}: the run failed (exit ${r.code}):\n${r.stderr}`);
    for (const e of r.events) {
      if (e.event === 'stage.start' && [...seen.keys()].some((k) => k.endsWith(`-${e.stage}`))) {
        throw new Error(`${where}: stage ${e.stage} started again although its marker existed`);
      }
    }
    const ids = checkVisibleState(runs, out, where);
    checkDecoys(where);
    for (const [name, id] of seen) {
      if (ids.get(name) !== id) throw new Error(`${where}: ${name} was re-executed or lost (execution_id ${id} -> ${ids.get(name) ?? 'none'})`);
    }
    if (r.killed) {
      report.kills++;
      const starts = r.events.filter((e) => e.event === 'stage.start').length;
      const dones = r.events.filter((e) => e.event === 'stage.done').length;
      if (starts > dones) {
        report.midStage++;
        const stage = r.events.filter((e) => e.event === 'stage.start').at(-1)!.stage!;
        report.byStage[stage] = (report.byStage[stage] ?? 0) + 1;
      }
      else if (ids.size === 7 && !existsSync(out)) report.duringExport++;
      seen = ids;
      inEpisode = true;
      episodeKills++;
      continue;
    }
    // Finished: the bytes of an uninterrupted run, and nothing left behind.
    const got = hashes(out);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const diff = Object.keys({ ...got, ...want }).filter((k) => got[k] !== want[k]);
      throw new Error(`${where}: out_dir differs from the uninterrupted run's in ${diff.join(', ')}`);
    }
    const leftovers = readdirSync(runs)
      .filter((n) => n.startsWith('.'))
      .concat([dir, real].flatMap((d) => readdirSync(d).filter((n) => /^(out\.(tmp|old)-|\.\.?out\.userlm-data\.lock)/.test(n) && !decoys.includes(join(d, n)))));
    if (leftovers.length) throw new Error(`${where}: leftovers after a finished run: ${leftovers.join(', ')}`);
    report.completions++;
    seen = new Map();
    inEpisode = false;
    episodeKills = 0;
    fresh();
  }
  rmSync(dir, { recursive: true, force: true });
  report.seconds = Math.round((performance.now() - started) / 100) / 10;
  return report;
}
