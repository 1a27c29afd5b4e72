import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { STAGES } from '../../src/stages/recipe.js';
import { runCliAsync, samplePipelineYaml } from '../helpers.js';

/** Files under dir, relative to it, sorted. */
export function filesUnder(dir: string, root = dir): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n), root) : [relative(root, join(dir, n))]))
    .sort();
}

/**
 * The files of a run that must not depend on how it was executed: out_dir's dataset files
 * and every stage's files but its marker (timings, execution ids). Left out: out_dir's
 * ownership record (inode numbers, times) and report.html (stage timings).
 */
export function executionIndependentFiles(runDir: string, outDir: string): string[] {
  const out = filesUnder(outDir).filter((f) => f !== '.userlm-data-out.json' && f !== 'report.html').map((f) => join(outDir, f));
  const stages = STAGES.flatMap((s) => filesUnder(join(runDir, s.name)).filter((f) => f !== '_SUCCESS.json').map((f) => join(runDir, s.name, f)));
  return [...out, ...stages];
}

/** Paths (relative to the two roots) whose bytes differ, or that only one side has. */
export function differingFiles(a: { runDir: string; outDir: string }, b: { runDir: string; outDir: string }): string[] {
  const rel = (x: { runDir: string; outDir: string }) =>
    executionIndependentFiles(x.runDir, x.outDir).map((f) => (f.startsWith(x.outDir + '/') ? `out/${relative(x.outDir, f)}` : `run/${relative(x.runDir, f)}`));
  const left = new Set(rel(a));
  const right = new Set(rel(b));
  const path = (x: { runDir: string; outDir: string }, f: string) => (f.startsWith('out/') ? join(x.outDir, f.slice(4)) : join(x.runDir, f.slice(4)));
  const diff: string[] = [];
  for (const f of new Set([...left, ...right])) {
    if (!left.has(f) || !right.has(f)) diff.push(`${f} (only in ${left.has(f) ? 'the first' : 'the second'})`);
    else if (!readFileSync(path(a, f)).equals(readFileSync(path(b, f)))) diff.push(f);
  }
  return diff.sort();
}

/** The bundled sample with the shipped stage options that drop, dedup and truncate. */
export function shardedSampleYaml(dir: string): string {
  return samplePipelineYaml(
    dir,
    `stages:
  filter: { drop_toxic: true, drop_redacted: true, max_chars_per_turn: 32000 }
  dedup: { exact: { enabled: true, text: all_user_turns } }
  tokenize: { max_seq_len: 2048, overflow: truncate_history }
  split: { fractions: { train: 0.9, validation: 0.05, test: 0.05 }, stratify_by: country }
`,
  );
}

/** Runs the pipeline file once, unsharded, and moves its run and out dirs under `<dir>/single/`: the reference a sharded run is compared with. */
export async function singleRunAside(dir: string, file: string): Promise<{ runDir: string; outDir: string }> {
  const one = await runCliAsync(['run', file, '-q']);
  assert.equal(one.status, 0, one.stderr);
  const single = { runDir: join(dir, 'single', 'runs'), outDir: join(dir, 'single', 'out') };
  mkdirSync(join(dir, 'single'));
  renameSync(join(dir, 'runs'), single.runDir);
  renameSync(join(dir, 'out'), single.outDir);
  return single;
}
