import { HubApiError } from '@huggingface/hub';
import { AuthError, RetryableError, SourceError, UserlmError } from '../core/errors.js';

export interface HubContext {
  /** owner/name */
  repo: string;
  type: 'dataset' | 'model';
  endpoint: string;
  /** What was being done, e.g. "downloading data/x.parquet" or "commit 2 of 3". */
  doing: string;
  hasToken: boolean;
  /** What a rerun does after a transient failure. */
  resume: string;
}

export function repoPage(ctx: Pick<HubContext, 'endpoint' | 'type' | 'repo'>): string {
  return `${ctx.endpoint}/${ctx.type === 'dataset' ? 'datasets/' : ''}${ctx.repo}`;
}

/**
 * Turn what the Hub client threw into one of our errors, with a message that says what to do.
 * Tokens never appear: HubApiError messages carry URLs and server text, not headers.
 */
export function hubFailure(e: unknown, ctx: HubContext): UserlmError {
  if (e instanceof UserlmError) return e;
  const where = `${ctx.repo} (${ctx.doing})`;
  if (e instanceof HubApiError) {
    const status = e.statusCode;
    const text = e.message.split('. URL:')[0] ?? e.message;
    const gated = /restricted|gated/i.test(text);
    if (gated && status === 401) {
      return new AuthError(
        `${where}: the ${ctx.type} is gated and needs a Hugging Face token. Accept its terms on ${repoPage(ctx)} while logged in, ` +
          `create a token at https://huggingface.co/settings/tokens and export HF_TOKEN=hf_..., then rerun`,
      );
    }
    if (gated && status === 403) {
      return new AuthError(
        `${where}: the ${ctx.type} is gated and the account of HF_TOKEN has no access yet. Accept the ${ctx.type}'s terms on ${repoPage(ctx)} ` +
          `with that account (or wait until the owners approve the request), then rerun`,
      );
    }
    if (status === 401 && ctx.hasToken && /credentials|token/i.test(text)) {
      return new AuthError(`${where}: the Hub rejected the token in HF_TOKEN (expired, revoked or mistyped); create a new one at https://huggingface.co/settings/tokens`);
    }
    if (status === 401 || status === 404) {
      if (/revision|rev id/i.test(text)) return new SourceError(`${where}: revision not found: ${text}. Check the revision (a full commit sha from the repo's "Files and versions" page)`);
      if (/entry|does not exist/i.test(text)) return new SourceError(`${where}: file not found in the repo: ${text}`);
      return new SourceError(
        `${where}: repository not found at ${ctx.endpoint}. Check the name${ctx.hasToken ? '' : '; if it is private, export HF_TOKEN=hf_... for an account that can read it'}`,
      );
    }
    if (status === 403) {
      return new AuthError(`${where}: the Hub refused: ${text}. Use a token with write access to ${ctx.repo} (https://huggingface.co/settings/tokens)`);
    }
    if (status === 429 || status >= 500) return new RetryableError(`${where}: the Hub answered ${status} (${text}); ${ctx.resume}`, { cause: e });
    return new UserlmError(`${where}: the Hub answered ${status}: ${text}`, { cause: e });
  }
  const msg = (e as Error)?.message ?? String(e);
  return new RetryableError(`${where}: ${msg.includes('fetch failed') ? `cannot reach ${ctx.endpoint}` : msg}; ${ctx.resume}`, { cause: e });
}
