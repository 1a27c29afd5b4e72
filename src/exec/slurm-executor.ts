import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { Db } from '../core/db.js';
import { RetryableError, StageError, UserlmError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { resultFromMarker, stageDir, type RunResult } from '../core/runner.js';
import type { AnyStageSpec } from '../core/stage.js';
import { executionSteps, pendingWork, type ExecutionStep } from './execution-steps.js';
import { arraySpec, partitionsRoot } from './partition.js';
import { inspectPartitions, type PartitionedStageState } from './partitioned-run.js';
import { CLI_MAIN, shellQuote, taskArgs, type TaskCommand } from './task-command.js';

const run = promisify(execFile);

/** The batch script of one step: an array task per partition for a map step, one task for a reduce step. */
export function slurmScript(args: { step: ExecutionStep; index: number; steps: number; count: number; command: TaskCommand; node: string; main: string; cwd: string }): string {
  const { step, count } = args;
  const what = step.kind === 'map' ? { shard: `\${SLURM_ARRAY_TASK_ID}/${count}` } : { reduce: count };
  const words = [args.node, '--enable-source-maps', args.main, ...taskArgs(args.command, what)];
  // The array index is expanded by the shell; everything else is quoted.
  const line = words.map((w) => (w.includes('${SLURM_ARRAY_TASK_ID}') ? `"${w}"` : shellQuote(w))).join(' ');
  return [
    '#!/bin/bash',
    `# userlm-data: step ${args.index + 1} of ${args.steps} (${step.kind}: ${step.stages.join(', ') || 'publish out_dir'}) over ${count} partitions.`,
    '# A task whose marker matches is skipped, so resubmitting this script is safe.',
    'set -euo pipefail',
    `cd ${shellQuote(args.cwd)}`,
    `exec ${line}`,
    '',
  ].join('\n');
}

export interface SlurmSubmission {
  step: number;
  kind: ExecutionStep['kind'];
  stages: string[];
  job_id: string;
  /** Map steps: the array indices submitted (the unfinished partitions). */
  array?: number[];
}

async function slurmCommand(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UserlmError(`--executor slurm needs ${cmd} on PATH (Slurm's client commands); run on a Slurm login node or install slurm-client`);
    throw new RetryableError(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

async function inspect(pipeline: LoadedPipeline, stages: AnyStageSpec[], count: number): Promise<PartitionedStageState[]> {
  const db = await Db.open({ threads: 1 });
  try {
    return await inspectPartitions(pipeline, stages, count, db);
  } finally {
    db.close();
  }
}

const ACTIVE = new Set(['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'RESIZING', 'STAGE_OUT', 'SIGNALING']);

/** Polls squeue until the job has left the queue's active states; its last state. */
async function waitForJob(jobId: string, pollMs: number): Promise<string> {
  for (;;) {
    const out = await slurmCommand('squeue', ['-h', '--states=all', '-j', jobId, '-o', '%T']).catch((e: unknown) => {
      // A job slurmctld no longer holds is over; its outcome is read from the markers.
      if (e instanceof RetryableError && /Invalid job id/i.test(e.message)) return 'GONE';
      throw e;
    });
    const states = out.split('\n').map((s) => s.trim()).filter(Boolean);
    if (!states.some((s) => ACTIVE.has(s))) return states[0] ?? 'GONE';
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * `--executor slurm`: one batch script per step under <run_dir>/.partitions/n<count>/slurm/,
 * submitted with sbatch: an array over the unfinished partitions for each map step, one job
 * for each reduce step, each after the one before it (afterok; a failed task cancels what
 * depends on it). Finished steps and partitions are not submitted again. With `wait`, polls
 * until the last job ends and returns the finished run; without, returns the submissions.
 */
export async function submitSlurm(
  pipeline: LoadedPipeline,
  stages: AnyStageSpec[],
  count: number,
  opts: { log: Logger; command: TaskCommand; sbatchArgs: string[]; wait: boolean; pollMs?: number },
): Promise<{ submitted: SlurmSubmission[]; result: RunResult | null }> {
  const { log } = opts;
  const dir = join(partitionsRoot(pipeline.config.run_dir, count), 'slurm');
  const logs = join(dir, 'logs');
  await mkdir(logs, { recursive: true });
  const steps = executionSteps(pipeline, stages);
  const work = pendingWork(steps, await inspect(pipeline, stages, count), count);
  const submitted: SlurmSubmission[] = [];
  let after = null as string | null;
  for (const [k, w] of work.entries()) {
    if (!w.pending) continue;
    const step = w.step;
    const name = `${String(k + 1).padStart(2, '0')}-${step.kind}-${step.stages.join('-') || 'publish'}`;
    const script = join(dir, `${name}.sh`);
    await writeFile(script, slurmScript({ step, index: k, steps: steps.length, count, command: opts.command, node: process.execPath, main: CLI_MAIN, cwd: process.cwd() }));
    await chmod(script, 0o755);
    const args: string[] = [
      '--parsable',
      `--job-name=userlm-${pipeline.config.name}-${name}`,
      `--output=${join(logs, step.kind === 'map' ? `${name}-%A_%a.out` : `${name}-%j.out`)}`,
      ...(step.kind === 'map' ? [`--array=${arraySpec(w.partitions)}`] : []),
      ...(after ? [`--dependency=afterok:${after}`, '--kill-on-invalid-dep=yes'] : []),
      ...opts.sbatchArgs,
      script,
    ];
    const jobId: string = (await slurmCommand('sbatch', args)).trim().split(';')[0]!;
    if (!/^\d+$/.test(jobId)) throw new StageError(`sbatch printed ${JSON.stringify(jobId)} instead of a job id`);
    const sub: SlurmSubmission = { step: k + 1, kind: step.kind, stages: step.stages, job_id: jobId, ...(step.kind === 'map' ? { array: w.partitions } : {}) };
    submitted.push(sub);
    log.info(
      'slurm.submitted',
      `step ${k + 1}/${steps.length} (${step.kind}: ${step.stages.join(', ') || 'publish'}): job ${jobId}` + (sub.array ? ` array ${arraySpec(sub.array)}` : ''),
      { ...sub },
    );
    after = jobId;
  }
  await writeFile(join(dir, 'submitted.json'), JSON.stringify(submitted, null, 2) + '\n');
  if (!opts.wait) return { submitted, result: null };
  const lastJob = submitted[submitted.length - 1]!.job_id;
  const state = await waitForJob(lastJob, opts.pollMs ?? 2000);
  const states = await inspect(pipeline, stages, count);
  const missing = states.find((s) => !s.done);
  if (missing || (state !== 'COMPLETED' && state !== 'GONE')) {
    const parts = missing?.map ? missing.tasks.flatMap((t, i) => (t ? [] : [i])) : [];
    throw new RetryableError(
      `the Slurm jobs ended (last job ${lastJob}: ${state}) before the run finished` +
        (missing ? `: stage ${missing.spec.name}${parts.length ? ` partition(s) ${arraySpec(parts)} of ${count}` : ''} is not done` : '') +
        `. Logs: ${logs}. Rerun the same command to submit only what is missing.`,
    );
  }
  const result: RunResult = { markers: [], results: [], executed: [], skipped: [] };
  for (const s of states) {
    result.markers.push(s.done!);
    result.results.push(resultFromMarker(stageDir(pipeline.config.run_dir, s.spec), s.done!));
    result.executed.push(s.spec.name);
  }
  return { submitted, result };
}
