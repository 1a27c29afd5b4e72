import { spawn } from 'node:child_process';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { Db } from '../core/db.js';
import { UserlmError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { RunResult } from '../core/runner.js';
import type { AnyStageSpec } from '../core/stage.js';
import { executionSteps, pendingWork } from './execution-steps.js';
import { inspectPartitions, runReduce, type ReduceRun } from './partitioned-run.js';
import { CLI_MAIN, taskArgs, type TaskCommand } from './task-command.js';

/** A partition's process that failed; its exit code is the run's (5: rerun to resume). */
export class PartitionFailed extends UserlmError {
  override readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

function runChild(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', CLI_MAIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/**
 * `--executor local`: each map step as one process per unfinished partition, all at once on
 * this machine; each reduce step in this process. The same commands a cluster runs.
 */
export async function runLocal(
  pipeline: LoadedPipeline,
  stages: AnyStageSpec[],
  count: number,
  opts: { log: Logger; command: TaskCommand; finalize?: (result: RunResult) => Promise<void> },
): Promise<ReduceRun> {
  const steps = executionSteps(pipeline, stages);
  let last: ReduceRun | null = null;
  for (const [k, step] of steps.entries()) {
    if (step.kind === 'reduce') {
      last = await runReduce(pipeline, stages, count, { log: opts.log, finalize: opts.finalize });
      continue;
    }
    const db = await Db.open({ threads: 1 });
    const states = await inspectPartitions(pipeline, stages, count, db).finally(() => db.close());
    const { partitions } = pendingWork(steps, states, count)[k]!;
    if (!partitions.length) continue;
    opts.log.info('exec.map', `step ${k + 1}/${steps.length} (${step.stages.join(', ')}): ${partitions.length} partition process(es)`, { step: k + 1, stages: step.stages, partitions });
    const codes = await Promise.all(partitions.map((i) => runChild(taskArgs(opts.command, { shard: `${i}/${count}` }))));
    const failed = partitions.filter((_, j) => codes[j] !== 0);
    if (failed.length) {
      const code = codes.find((c) => c !== 0)!;
      throw new PartitionFailed(
        `partition(s) ${failed.map((i) => `${i}/${count}`).join(', ')} of ${step.stages.join(', ')} failed (exit ${code}; its error is above). ` +
          'Fix the cause and rerun the same command: finished partitions are skipped.',
        code > 0 && code < 7 ? code : 4,
      );
    }
  }
  return last!;
}
