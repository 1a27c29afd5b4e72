import { Command, InvalidArgumentError } from 'commander';
import { loadPipeline } from '../config/load-pipeline.js';
import { createLogger } from '../core/logger.js';
import { ensureHubSources } from '../hub/ensure-hub-sources.js';
import { hubSettings } from '../hub/hub-settings.js';

export function pullCommand(): Command {
  return new Command('pull')
    .description(
      "Download each Hub source of a pipeline at its pinned commit into the Hugging Face cache (HF_HUB_CACHE, or HF_HOME/hub; shared with Python's huggingface_hub). " +
        'Only the files hub.files names; sizes and hashes are verified; an interrupted download resumes. Gated datasets need HF_TOKEN.',
    )
    .argument('<pipeline.yaml>', 'pipeline file (see pipelines/)')
    .option('--offline', 'do not contact the Hub: check the cache and list what is missing (also HF_HUB_OFFLINE=1)', false)
    .option('--force', 'ask the Hub again even when the recorded listing says everything is cached', false)
    .option('--attempts <n>', 'attempts per file before giving up, each resuming where the last stopped', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number >= 1');
      return n;
    }, 4)
    .option('--json', 'log one JSON object per line instead of text', false)
    .option('-q, --quiet', 'print only warnings and errors', false)
    .action(async (file: string, opts: { offline: boolean; force: boolean; attempts: number; json: boolean; quiet: boolean }) => {
      const pipeline = await loadPipeline(file);
      const log = createLogger({ json: opts.json, quiet: opts.quiet });
      const settings = hubSettings();
      const offline = opts.offline || settings.offline;
      const results = await ensureHubSources(pipeline, { settings, log, offline, force: opts.force, attempts: opts.attempts });
      if (results.length === 0) {
        log.info('pull.none', `${file} has no Hub sources; nothing to pull`);
        return;
      }
      log.info('pull.ok', `${results.length} Hub source(s) ready in ${settings.cacheDir}`, { cache_dir: settings.cacheDir, sources: results.map(({ report: _r, ...x }) => x) });
    });
}
