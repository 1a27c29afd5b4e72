import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { loadPipeline } from '../config/load-pipeline.js';
import { createLogger } from '../core/logger.js';
import { ensureHubSources } from '../hub/ensure-hub-sources.js';
import { hubSettings } from '../hub/hub-settings.js';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { Db } from '../core/db.js';
import type { Logger } from '../core/logger.js';
import type { RunResult } from '../core/runner.js';
import { hubCacheDir } from '../hub/hub-cache-dir.js';
import { checkLanguageLabels } from '../sources/check-language-labels.js';
import { resolveSourceFiles } from '../sources/resolve-files.js';
import { userKeyWarnings } from '../sources/user-key-warnings.js';
import { build, type BuildOutcome, type Execution } from '../stages/recipe.js';
import { arraySpec, parsePartition, type Partition } from '../exec/partition.js';
import { formatFunnel, sourceFunnels } from './source-funnel.js';

/** A source whose language labels all miss the filter stops here, before any stage runs. */
async function checkLanguagesBeforeRun(pipeline: LoadedPipeline): Promise<void> {
  const db = await Db.open({ threads: 2 });
  try {
    const where = { runDir: pipeline.config.run_dir, cacheDir: hubCacheDir() };
    await checkLanguageLabels(db, pipeline, (s, i) => resolveSourceFiles(db, s, i, where));
  } finally {
    db.close();
  }
}

/** The end of every run: per source, in, kept and the top drop reasons. */
async function printFunnels(r: RunResult, log: Logger): Promise<void> {
  const db = await Db.open({ threads: 2 });
  try {
    const funnels = await sourceFunnels(db, r.results);
    if ('missing' in funnels) {
      log.warn(
        'run.funnel_missing',
        `the per-source summary (in, kept, drop reasons) is left out: ${funnels.missing.join(', ')} ${funnels.missing.length > 1 ? 'are' : 'is'} gone, removed after ${funnels.missing.length > 1 ? 'their stages' : 'its stage'} finished; the output in out_dir is complete`,
        { missing: funnels.missing },
      );
      return;
    }
    for (const f of funnels) log.info('run.funnel', formatFunnel(f), { ...f });
  } finally {
    db.close();
  }
}

function partitionArg(v: string): Partition {
  const p = parsePartition(v);
  if (typeof p === 'string') throw new InvalidArgumentError(p);
  return p;
}

function countArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 1 || n > 100000) throw new InvalidArgumentError(`must be a whole number from 1 to 100000 (got ${JSON.stringify(v)})`);
  return n;
}

const collect = (v: string, prev: string[]) => [...prev, v];

interface RunFlags {
  json: boolean;
  quiet: boolean;
  offline: boolean;
  shard?: Partition;
  reduce?: number;
  executor?: 'local' | 'slurm' | 'k8s';
  shards?: number;
  sbatchArg: string[];
  wait: boolean;
  k8sImage: string;
  k8sClaim?: string;
  k8sWorkdir?: string;
}

/** The execution the flags ask for, or a usage error (exit 2). */
function execution(cmd: Command, file: string, o: RunFlags): Execution {
  const fail = (m: string): never => cmd.error(`error: ${m}`, { exitCode: 2, code: 'userlm.usage' });
  if (o.executor && o.shards === undefined) fail('--executor needs --shards <n>, the number of partitions');
  if (o.shards !== undefined && !o.executor) fail('--shards <n> goes with --executor local|slurm|k8s (a single partition is --shard i/n)');
  if ((o.wait || o.sbatchArg.length) && o.executor !== 'slurm') fail('--wait and --sbatch-arg go with --executor slurm');
  if ((o.k8sClaim || o.k8sWorkdir) && o.executor !== 'k8s') fail('--k8s-* options go with --executor k8s');
  const command = { pipelineFile: file, flags: [...(o.json ? ['--json'] : []), ...(o.quiet ? ['--quiet'] : []), ...(o.offline ? ['--offline'] : [])] };
  if (o.shard) return { kind: 'partition', partition: o.shard };
  if (o.reduce !== undefined) return { kind: 'reduce', count: o.reduce };
  if (o.executor === 'local') return { kind: 'local', count: o.shards!, command };
  if (o.executor === 'slurm') return { kind: 'slurm', count: o.shards!, command, sbatchArgs: o.sbatchArg, wait: o.wait };
  if (o.executor === 'k8s') {
    if (!o.k8sClaim) fail('--executor k8s needs --k8s-claim <name>: the PersistentVolumeClaim that holds this checkout, the sources and the run directory');
    return { kind: 'k8s', count: o.shards!, command, k8s: { image: o.k8sImage, claim: o.k8sClaim!, workdir: resolve(o.k8sWorkdir ?? process.cwd()) } };
  }
  return { kind: 'single' };
}

/** The last line of a run that did part of the work (one partition, a submission). */
function reportPartial(outcome: Exclude<BuildOutcome, { kind: 'built' }>, log: Logger, secs: string): void {
  if (outcome.kind === 'partition') {
    const r = outcome.run;
    log.info('run.partition_done', `partition done in ${secs}s: ${r.executed.length} stage(s) ran, ${r.skipped.length} skipped` + (r.stoppedBefore ? `; next: ${r.stoppedBefore}, a reduce step` : ''), { ...r, seconds: Number(secs) });
  } else if (outcome.kind === 'waiting') {
    log.info('run.waiting', `stopped after ${secs}s: stage ${outcome.stage} needs partition(s) ${arraySpec(outcome.partitions)} of ${outcome.count}`, { ...outcome, seconds: Number(secs) });
  } else if (outcome.kind === 'submitted') {
    log.info('run.submitted', `${outcome.jobs.length} Slurm job(s) submitted: ${outcome.jobs.map((j) => j.job_id).join(', ')}; rerun with --wait to follow them, or rerun to resubmit what failed`, { jobs: outcome.jobs });
  } else {
    log.info('run.manifests', `${outcome.files.length} Job manifest(s) written to ${outcome.dir}/`, { ...outcome });
  }
}

export function runCommand(): Command {
  const cmd = new Command('run');
  return cmd
    .description('Run a pipeline: every stage whose inputs or options changed, then write out_dir (shards, manifest.json, README.md).')
    .argument('<pipeline.yaml>', 'pipeline file (see pipelines/)')
    .option('--json', 'log one JSON object per line instead of text', false)
    .option('-q, --quiet', 'print only warnings and errors', false)
    .option('--offline', 'read Hub sources from the Hugging Face cache only, never the network (also HF_HUB_OFFLINE=1)', false)
    .addOption(new Option('--shard <i/n>', 'run the per-conversation stages on partition i of n (0-based) into the run directory, up to the next reduce step').argParser(partitionArg).conflicts(['reduce', 'executor']))
    .addOption(new Option('--reduce <n>', 'merge the finished partitions of n and run the reduce steps (dedup, split, shards) up to the next unfinished map step').argParser(countArg).conflicts(['executor']))
    .addOption(new Option('--executor <kind>', 'run on --shards partitions: n processes here, a Slurm job array per map step, or Kubernetes Job manifests').choices(['local', 'slurm', 'k8s']))
    .addOption(new Option('--shards <n>', 'number of partitions for --executor').argParser(countArg))
    .option('--sbatch-arg <arg>', 'extra sbatch argument for every job, e.g. --sbatch-arg=--partition=cpu (repeatable)', collect, [])
    .option('--wait', 'with --executor slurm: wait for the jobs, then report the finished run', false)
    .option('--k8s-image <image>', 'with --executor k8s: container image with Node 20', 'node:20-bookworm')
    .option('--k8s-claim <name>', 'with --executor k8s: PersistentVolumeClaim holding this checkout, the sources and run_dir')
    .option('--k8s-workdir <dir>', 'with --executor k8s: where the claim is mounted (this checkout on it; default: the current directory)')
    .action(async (file: string, opts: RunFlags) => {
      const how = execution(cmd, file, opts);
      const pipeline = await loadPipeline(file);
      const log = createLogger({ json: opts.json, quiet: opts.quiet });
      const started = performance.now();
      if (pipeline.config.sources.some((s) => s.hub && !s.files) && how.kind !== 'k8s') {
        // Pipelines without Hub sources never read the environment's Hub settings (or a token).
        const settings = hubSettings();
        await ensureHubSources(pipeline, { settings, log, offline: opts.offline || settings.offline });
      }
      // Checked once, by the run that starts the work, not by every task.
      if (how.kind === 'single' || how.kind === 'local' || how.kind === 'slurm') {
        for (const w of userKeyWarnings(pipeline)) log.warn('source.no_user_key', w, {});
        await checkLanguagesBeforeRun(pipeline);
      }
      const outcome = await build(pipeline, log, how);
      if (outcome.kind !== 'built') return reportPartial(outcome, log, ((performance.now() - started) / 1000).toFixed(1));
      const r = outcome.build;
      await printFunnels(r, log);
      // The dataset is complete whatever happens here; a report that fails is said, with how to retry.
      // Loaded here, not at start-up: the chart libraries are only needed once a run is done.
      const { reportForPipeline } = await import('../report/report-for-pipeline.js');
      const report = await reportForPipeline(pipeline).then(
        (x) => x.paths[0]!,
        (e: unknown) => {
          log.warn('run.report_failed', `the run report could not be written (${(e as Error)?.message ?? String(e)}); retry with: userlm-data report ${pipeline.config.run_dir}`);
          return null;
        },
      );
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      const last = r.markers[r.markers.length - 1]!;
      log.info(
        'run.done',
        `done in ${secs}s: ${r.executed.length} stage(s) ran, ${r.skipped.length} skipped; ${last.samples_out ?? 0} samples in ${r.outDir}/` +
          (report ? `; report: ${report}` : ''),
        { executed: r.executed, skipped: r.skipped, samples: last.samples_out, out_dir: r.outDir, seconds: Number(secs), report },
      );
    });
}
