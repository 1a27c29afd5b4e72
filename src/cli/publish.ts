import { Command, InvalidArgumentError } from 'commander';
import { AuthError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { hubSettings } from '../hub/hub-settings.js';
import { MAX_FILES_PER_COMMIT, publishDataset } from '../hub/publish-dataset.js';

const REPO = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function publishCommand(): Command {
  return new Command('publish')
    .description(
      'Upload a finished dataset (the out_dir of a run: shards, README.md card, manifest.json) to a Hugging Face dataset repo, creating it if missing. ' +
        `Commits hold at most ${MAX_FILES_PER_COMMIT} files; files already there with the same sha256 are skipped, so rerunning an interrupted publish uploads only the rest. Needs HF_TOKEN with write access.`,
    )
    .argument('<out-dir>', 'the dataset directory, e.g. out/sample')
    .requiredOption('--repo <owner/name>', 'dataset repo to publish to', (v: string) => {
      if (!REPO.test(v)) throw new InvalidArgumentError('must be owner/name, e.g. my-org/userlm-wildchat');
      return v;
    })
    .option('--private', 'create the repo private (an existing repo keeps its visibility)', false)
    .option('--branch <name>', 'commit to this branch (created from main when missing) instead of main')
    .option('--pr', 'open a pull request against main instead of committing to it', false)
    .option('--files-per-commit <n>', `files per commit, at most ${MAX_FILES_PER_COMMIT}`, (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > MAX_FILES_PER_COMMIT) throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_FILES_PER_COMMIT}`);
      return n;
    })
    .option('--json', 'log one JSON object per line instead of text; the result goes to stdout as JSON', false)
    .option('-q, --quiet', 'print only warnings, errors and the URL', false)
    .action(async (outDir: string, opts: { repo: string; private: boolean; branch?: string; pr: boolean; filesPerCommit?: number; json: boolean; quiet: boolean }) => {
      if (opts.pr && opts.branch) throw new InvalidArgumentError('use either --branch or --pr: a pull request always targets main');
      const log = createLogger({ json: opts.json, quiet: opts.quiet });
      const settings = hubSettings();
      if (settings.offline) throw new AuthError('HF_HUB_OFFLINE is set, and publishing needs the Hub; unset it to publish');
      if (!settings.token) {
        throw new AuthError(`publishing needs a Hugging Face token with write access to ${opts.repo}: create one at https://huggingface.co/settings/tokens and export HF_TOKEN=hf_...`);
      }
      const r = await publishDataset({
        outDir,
        repo: opts.repo,
        private: opts.private,
        branch: opts.branch,
        pr: opts.pr,
        endpoint: settings.endpoint,
        token: settings.token,
        log,
        maxFilesPerCommit: opts.filesPerCommit,
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      log.info(
        'publish.done',
        r.uploaded.length ? `uploaded ${r.uploaded.length} file(s) in ${r.commits.length} commit(s); ${r.skipped.length} were already there` : `nothing to upload: all ${r.skipped.length} file(s) are already there`,
      );
      process.stdout.write(`${r.pullRequestUrl ?? r.url}\n`);
    });
}
