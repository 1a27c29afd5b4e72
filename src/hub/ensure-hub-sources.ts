import type { LoadedPipeline } from '../config/pipeline-config.js';
import { SourceError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { cacheLayout } from './cache-layout.js';
import { dropStalePartials } from './drop-stale-partials.js';
import { hubSourceFiles } from './hub-source-files.js';
import type { HubSettings } from './hub-settings.js';
import { pullSource, type PullReport } from './pull-source.js';

export interface EnsureOptions {
  settings: HubSettings;
  log: Logger;
  /** Use the cache only; fail listing what is missing. */
  offline: boolean;
  /** Pull even when the recorded listing says the cache is complete (to recheck with the Hub). */
  force?: boolean;
  /** Attempts per file. @default 4 */
  attempts?: number;
  fetch?: typeof fetch;
  sleep?: (attempt: number) => Promise<void>;
}

export interface EnsureResult {
  source: string;
  status: 'complete' | 'pulled';
  sha: string | null;
  files: number;
  report?: PullReport;
}

/**
 * Make every Hub source of a pipeline readable from the cache. A source whose recorded
 * listing is complete in the cache needs no network (a commit never changes); the others are
 * pulled, or, offline, reported with every missing file named.
 */
export async function ensureHubSources(pipeline: LoadedPipeline, o: EnsureOptions): Promise<EnsureResult[]> {
  const out: EnsureResult[] = [];
  const missingReport: string[] = [];
  for (const [i, s] of pipeline.config.sources.entries()) {
    if (!s.hub) continue;
    const local = await hubSourceFiles(s.name, s.hub, { runDir: pipeline.config.run_dir, cacheDir: o.settings.cacheDir });
    const complete = local.missing.length === 0 && local.files.length > 0;
    if (o.offline) {
      if (!complete) {
        const shown = local.missing.slice(0, 10).join(', ') + (local.missing.length > 10 ? `, and ${local.missing.length - 10} more` : '');
        missingReport.push(
          `  sources[${i}] (${s.name}): ${s.hub.repo}@${s.hub.revision.slice(0, 12)}: ` +
            (local.listedBy === 'hub' ? `${local.missing.length} of ${local.missing.length + local.files.length} file(s) missing: ${shown}` : `nothing in the cache matches ${shown}`),
        );
      } else {
        if (local.listedBy === 'cache') {
          o.log.warn('pull.unverified', `${s.name}: using ${local.files.length} file(s) found in the cache; without a listing from the Hub, completeness cannot be checked`);
        }
        out.push({ source: s.name, status: 'complete', sha: local.sha, files: local.files.length });
      }
      continue;
    }
    if (complete && local.listedBy === 'hub' && !o.force) {
      const dropped = await dropStalePartials(cacheLayout(o.settings.cacheDir, s.hub.repo_type, s.hub.repo).lock, local.files);
      if (dropped) o.log.info('pull.cleaned', `${s.name}: removed ${dropped} partial download(s) of blobs the cache now holds complete`, { source: s.name, dropped });
      o.log.info('pull.cached', `${s.name}: ${s.hub.repo} @ ${local.sha!.slice(0, 12)}: all ${local.files.length} file(s) in the cache`, { source: s.name, sha: local.sha });
      out.push({ source: s.name, status: 'complete', sha: local.sha, files: local.files.length });
      continue;
    }
    const report = await pullSource(s.name, s.hub, {
      runDir: pipeline.config.run_dir,
      cacheDir: o.settings.cacheDir,
      endpoint: o.settings.endpoint,
      token: o.settings.token,
      fetch: o.fetch,
      sleep: o.sleep,
      attempts: o.attempts,
      log: o.log,
    });
    out.push({ source: s.name, status: 'pulled', sha: report.sha, files: report.files, report });
  }
  if (missingReport.length) {
    throw new SourceError(
      `offline, and the Hugging Face cache (${o.settings.cacheDir}) lacks files of ${missingReport.length} source(s):\n${missingReport.join('\n')}\n` +
        `Run \`userlm-data pull ${pipeline.file}\` where the Hub is reachable (same HF_HUB_CACHE / HF_HOME), then rerun.`,
    );
  }
  return out;
}
