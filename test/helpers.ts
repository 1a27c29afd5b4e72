import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePipeline } from '../src/config/load-pipeline.js';
import type { LoadedPipeline } from '../src/config/pipeline-config.js';
import { Db } from '../src/core/db.js';

/** Repository root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Real WildChat-1M rows vendored with their attribution (test/fixtures/README.md). */
export const REALDATA = join(ROOT, 'test', 'fixtures');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const SAMPLE_WILDCHAT = join(ROOT, 'datasets', 'sample', 'wildchat-sample.parquet');
export const SAMPLE_PRISM = join(ROOT, 'datasets', 'sample', 'prism-conversations.jsonl');

export function tempDir(prefix = 'userlm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write a pipeline file into dir and load it. */
export function writePipeline(dir: string, yaml: string, name = 'pipeline.yaml'): { file: string; pipeline: () => LoadedPipeline } {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return { file, pipeline: () => parsePipeline(yaml, file) };
}

export function runCli(args: string[], cwd = ROOT, env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await Db.open({ threads: 2 });
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

/** The sample pipeline with its run and output directories moved into dir. */
export function samplePipelineYaml(dir: string, extra = ''): string {
  return `name: sample
seed: 20251122
run_dir: ${join(dir, 'runs')}
out_dir: ${join(dir, 'out')}
sources:
  - name: wildchat
    type: wildchat
    files: [${SAMPLE_WILDCHAT}]
    license: cc0-1.0
  - name: prism
    type: prism
    files: [${SAMPLE_PRISM}]
    split: test_ood
    license: cc0-1.0
${extra}`;
}

/** Rows of a Parquet file read by hyparquet: an implementation independent of DuckDB. */
export async function readParquetIndependently(path: string): Promise<Record<string, unknown>[]> {
  const { asyncBufferFromFile, parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const file = await asyncBufferFromFile(path);
  return (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
}

/**
 * The CLI in a child process without blocking this one, so that a server running in the test
 * process (test/servers/) can answer it.
 */
export function runCliAsync(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const merged: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...env })) if (v !== undefined) merged[k] = v;
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: merged });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/**
 * fast-check settings: a fixed seed so that the suite is reproducible (a failure prints the
 * seed and path to replay it); USERLM_PROPERTY_SEED=random explores new inputs, and
 * USERLM_PROPERTY_SCALE multiplies the number of runs (make soak does both).
 */
export function propertyOptions(numRuns: number): { numRuns: number; seed?: number } {
  const seed = process.env['USERLM_PROPERTY_SEED'];
  const scale = Number(process.env['USERLM_PROPERTY_SCALE'] ?? 1);
  return { numRuns: Math.max(1, Math.round(numRuns * scale)), ...(seed === 'random' ? {} : { seed: seed ? Number(seed) : 20251122 }) };
}
