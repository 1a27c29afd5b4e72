import { Command } from 'commander';
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
import { buildDataset } from '../stages/recipe.js';
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
    for (const f of await sourceFunnels(db, r.results)) log.info('run.funnel', formatFunnel(f), { ...f });
  } finally {
    db.close();
  }
}

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
      for (const w of userKeyWarnings(pipeline)) log.warn('source.no_user_key', w, {});
      await checkLanguagesBeforeRun(pipeline);
      const r = await buildDataset(pipeline, log);
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
