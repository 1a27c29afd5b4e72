import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import type { Logger } from '../core/logger.js';
import type { AnyStageSpec } from '../core/stage.js';
import { executionSteps, type ExecutionStep } from './execution-steps.js';
import { partitionsRoot } from './partition.js';
import { shellQuote, taskArgs, type TaskCommand } from './task-command.js';

export interface K8sOptions {
  /** Image with Node 20 (the checkout itself is on the volume). @default node:20-bookworm */
  image: string;
  /** PersistentVolumeClaim holding the checkout, the sources, run_dir and out_dir (ReadWriteMany). */
  claim: string;
  /** Where the claim is mounted and the tasks run: this checkout's path on the volume. */
  workdir: string;
}

/** A Kubernetes name: lowercase alphanumerics and '-', at most 63 characters. */
function k8sName(text: string): string {
  const n = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return n.slice(0, 63).replace(/-+$/, '') || 'userlm';
}

/**
 * One batch/v1 Job per step: an Indexed Job with one completion per partition for a map step
 * (JOB_COMPLETION_INDEX is the partition), a single completion for a reduce step.
 */
export function k8sJob(args: { pipeline: LoadedPipeline; step: ExecutionStep; index: number; count: number; command: TaskCommand; k8s: K8sOptions }): Record<string, unknown> {
  const { step, count, k8s } = args;
  const name = k8sName(`userlm-${args.pipeline.config.name}-${args.index + 1}-${step.kind}-${step.stages.join('-') || 'publish'}`);
  const what = step.kind === 'map' ? { shard: `\${JOB_COMPLETION_INDEX}/${count}` } : { reduce: count };
  const words = ['node', '--enable-source-maps', 'dist/src/cli/main.js', ...taskArgs(args.command, what)];
  const line = words.map((w) => (w.includes('${JOB_COMPLETION_INDEX}') ? `"${w}"` : shellQuote(w))).join(' ');
  const labels = { 'app.kubernetes.io/name': 'userlm-data', 'userlm-data/pipeline': k8sName(args.pipeline.config.name), 'userlm-data/step': String(args.index + 1) };
  const map = step.kind === 'map';
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels },
    spec: {
      ...(map ? { completionMode: 'Indexed', completions: count, parallelism: count, backoffLimitPerIndex: 2 } : { completions: 1, parallelism: 1, backoffLimit: 2 }),
      template: {
        metadata: { labels },
        spec: {
          // A failed pod is retried as a new pod; a rerun task skips what its marker covers.
          restartPolicy: 'Never',
          containers: [
            {
              name: 'userlm-data',
              image: k8s.image,
              workingDir: k8s.workdir,
              command: ['/bin/sh', '-c', `exec ${line}`],
              volumeMounts: [{ name: 'work', mountPath: k8s.workdir }],
            },
          ],
          volumes: [{ name: 'work', persistentVolumeClaim: { claimName: k8s.claim } }],
        },
      },
    },
  };
}

/**
 * `--executor k8s`: one Job manifest per step under <run_dir>/.partitions/n<count>/k8s/, and
 * submit.sh applying them in order, each after the one before it completes. Nothing is
 * submitted from here.
 */
export async function writeK8sManifests(
  pipeline: LoadedPipeline,
  stages: AnyStageSpec[],
  count: number,
  opts: { command: TaskCommand; k8s: K8sOptions; log: Logger },
): Promise<{ files: string[]; dir: string }> {
  const dir = join(partitionsRoot(pipeline.config.run_dir, count), 'k8s');
  await mkdir(dir, { recursive: true });
  const steps = executionSteps(pipeline, stages);
  const files: string[] = [];
  const submit = ['#!/bin/sh', '# Applies each step after the one before it completed (kubectl on PATH, the claim mounted read-write).', 'set -eu', `cd "$(dirname "$0")"`];
  for (const [k, step] of steps.entries()) {
    const job = k8sJob({ pipeline, step, index: k, count, command: opts.command, k8s: opts.k8s });
    const name = (job['metadata'] as { name: string }).name;
    const file = `${String(k + 1).padStart(2, '0')}-${step.kind}-${step.stages.join('-') || 'publish'}.yaml`;
    await writeFile(join(dir, file), stringify(job));
    files.push(join(dir, file));
    // A Job's spec cannot be changed: a resubmission replaces it (finished tasks skip themselves).
    submit.push(`kubectl delete job --ignore-not-found ${name}`, `kubectl apply -f ${file}`, `kubectl wait --for=condition=complete --timeout=24h job/${name}`);
  }
  await writeFile(join(dir, 'submit.sh'), submit.join('\n') + '\n', { mode: 0o755 });
  opts.log.info('k8s.written', `${files.length} Job manifest(s) in ${dir}; apply them in order with ${join(dir, 'submit.sh')}`, { dir, files });
  return { files, dir };
}
