import { Command } from 'commander';
import { loadPipeline } from '../config/load-pipeline.js';
import { createLogger } from '../core/logger.js';
import { ensureHubSources } from '../hub/ensure-hub-sources.js';
import { hubSettings } from '../hub/hub-settings.js';
import { buildDataset } from '../stages/recipe.js';

export function runCommand(): Command {
  return new Command('run')
    .description('Run a pipeline: every stage whose inputs or options changed, then write out_dir (shards, manifest.json, README.md).')
    .argument('<pipeline.yaml>', 'pipeline file (see pipelines/)')
    .option('--json', 'log one JSON object per line instead of text', false)
    .option('-q, --quiet', 'print only warnings and errors', false)
    .option('--offline', 'read Hub sources from the Hugging Face cache only, never the network (also HF_HUB_OFFLINE=1)', false)
    .action(async (file: string, opts: { json: boolean; quiet: boolean; offline: boolean }) => {
      const pipeline = await loadPipeline(file);
      const log = createLogger({ json: opts.json, quiet: opts.quiet });
      const started = performance.now();
      if (pipeline.config.sources.some((s) => s.hub && !s.files)) {
        // Pipelines without Hub sources never read the environment's Hub settings (or a token).
        const settings = hubSettings();
        await ensureHubSources(pipeline, { settings, log, offline: opts.offline || settings.offline });
      }
      const r = await buildDataset(pipeline, log);
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
