import type { LoadedPipeline } from '../config/pipeline-config.js';
import { isMapStage, type AnyStageSpec } from '../core/stage.js';
import type { PartitionedStageState } from './partitioned-run.js';

/**
 * One job of a partitioned run. A map step runs its stages on every partition (an array of
 * tasks: `run --shard i/n`); a reduce step merges the map stages before it and runs its own
 * stages once (`run --reduce n`). The last step is always a reduce step: it publishes out_dir.
 */
export interface ExecutionStep {
  kind: 'map' | 'reduce';
  stages: string[];
}

export function executionSteps(pipeline: LoadedPipeline, stages: AnyStageSpec[]): ExecutionStep[] {
  const steps: ExecutionStep[] = [];
  for (const spec of stages) {
    const kind = isMapStage(spec, pipeline) ? 'map' : 'reduce';
    const last = steps[steps.length - 1];
    if (last?.kind === kind) last.stages.push(spec.name);
    else steps.push({ kind, stages: [spec.name] });
  }
  if (steps[steps.length - 1]?.kind !== 'reduce') steps.push({ kind: 'reduce', stages: [] });
  return steps;
}

/**
 * What each step still has to do, from the markers: a map step, the partitions where one of
 * its stages is unfinished (none when its stages are all merged); a reduce step, whether one
 * of its stages or of the map stages it merges is not done. The last step always runs (it
 * publishes out_dir, which is quick when nothing changed).
 */
export function pendingWork(steps: ExecutionStep[], states: PartitionedStageState[], count: number): { step: ExecutionStep; partitions: number[]; pending: boolean }[] {
  const byName = new Map(states.map((s) => [s.spec.name, s]));
  return steps.map((step, k) => {
    const own = step.stages.map((n) => byName.get(n)!);
    if (step.kind === 'map') {
      const partitions: number[] = [];
      for (let i = 0; i < count; i++) if (own.some((s) => !s.done && !s.tasks[i])) partitions.push(i);
      return { step, partitions, pending: partitions.length > 0 };
    }
    const merged = (steps[k - 1]?.kind === 'map' ? steps[k - 1]!.stages : []).map((n) => byName.get(n)!);
    const pending = k === steps.length - 1 || [...own, ...merged].some((s) => !s.done);
    return { step, partitions: [], pending };
  });
}
