import type { IntentRequestBuilder } from '../../llm/intent-request-builder.js';
import type { ResponseCache } from '../../llm/response-cache.js';
import { validateIntent, type IntentBounds } from '../../llm/validate-intent.js';

export const DROP_INVALID = 'intent_invalid';
export const DROP_REJECTED = 'intent_rejected';

export type IntentResolution =
  | { status: 'intent'; intent: string; cacheHits: number; invalid: number }
  | { status: 'drop'; reason: typeof DROP_INVALID | typeof DROP_REJECTED; cacheHits: number; invalid: number }
  /** The next request to send: attempt `attempt`, cached under `key`. */
  | { status: 'need'; attempt: number; key: string; cacheHits: number; invalid: number };

/**
 * How far the cache gets a conversation: attempts are tried in order, each cached under its
 * own key. A valid answer is final, whenever it arrived. An invalid or refused answer is
 * final only if this process received it: one found on disk came from an earlier run, whose
 * endpoint may have been broken and fixed since, so that attempt is asked again (the new
 * answer replaces it). A rerun therefore never turns old nonsense into drops without asking.
 */
export function resolveIntent(
  cache: ResponseCache,
  builder: IntentRequestBuilder,
  rendered: string,
  bounds: IntentBounds,
  maxInvalidRetries: number,
): IntentResolution {
  let invalid = 0;
  for (let attempt = 0; attempt <= maxInvalidRetries; attempt++) {
    const key = builder.key(rendered, attempt);
    const r = cache.get(key);
    if (!r) return { status: 'need', attempt, key, cacheHits: attempt, invalid };
    const v = r.kind === 'answer' ? validateIntent(r.text, bounds) : null;
    if (v?.ok) return { status: 'intent', intent: v.intent, cacheHits: attempt + 1, invalid };
    if (!cache.isFresh(key)) return { status: 'need', attempt, key, cacheHits: attempt, invalid };
    if (r.kind === 'rejected') return { status: 'drop', reason: DROP_REJECTED, cacheHits: attempt + 1, invalid };
    invalid++;
  }
  return { status: 'drop', reason: DROP_INVALID, cacheHits: maxInvalidRetries + 1, invalid };
}
