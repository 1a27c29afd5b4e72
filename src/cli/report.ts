import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadPipeline } from '../config/load-pipeline.js';
import type { LoadedPipeline } from '../config/pipeline-config.js';
import { SourceError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { findStageDir } from '../report/find-stage-dir.js';
import { reportForPipeline } from '../report/report-for-pipeline.js';
import { writeReport } from '../report/write-report.js';
import { STAGES } from '../stages/recipe.js';

/** The pipeline a run directory was built from, when its manifest names a file that still describes this run. */
async function pipelineOfRun(runDir: string): Promise<LoadedPipeline | null> {
  const shards = await findStageDir(runDir, STAGES[STAGES.length - 1]!.name);
  if (!shards) return null;
  const manifest = JSON.parse(await readFile(join(shards, 'manifest.json'), 'utf8').catch(() => 'null')) as { pipeline_file?: string } | null;
  if (!manifest?.pipeline_file) return null;
  const p = await loadPipeline(manifest.pipeline_file).catch(() => null);
  return p && resolve(p.config.run_dir) === resolve(runDir) ? p : null;
}

export function reportCommand(): Command {
  return new Command('report')
    .description("Write a run's report.html: funnel and drop reasons with examples, token lengths, languages and countries, split shares, dedup clusters, intents, leaks. One self-contained file, nothing fetched when opened.")
    .argument('<run-dir>', 'a finished run directory (runs/<name>)')
    .option('--pipeline <file>', "the run's pipeline file, for the configured split fractions and a copy in out_dir (default: the one manifest.json names, if it still describes this run)")
    .option('--json', 'print the result as one JSON object', false)
    .action(async (runDir: string, opts: { pipeline?: string; json: boolean }) => {
      if (!(await stat(runDir).then((s) => s.isDirectory(), () => false))) {
        throw new SourceError(`${runDir}: no such run directory; pass runs/<name> after \`userlm-data run <pipeline.yaml>\``);
      }
      const pipeline = opts.pipeline ? await loadPipeline(opts.pipeline) : await pipelineOfRun(runDir);
      if (pipeline && resolve(pipeline.config.run_dir) !== resolve(runDir)) {
        throw new SourceError(`${opts.pipeline} describes the run in ${pipeline.config.run_dir}, not ${runDir}; pass the pipeline file of this run`);
      }
      const r = pipeline ? await reportForPipeline(pipeline) : await writeReport({ runDir, stages: STAGES.map((s) => s.name) });
      const log = createLogger({ json: opts.json });
      log.info('report.done', `report written to ${r.paths.join(' and ')} (${(r.bytes / 1024).toFixed(0)} KiB)`, { paths: r.paths, bytes: r.bytes });
    });
}
