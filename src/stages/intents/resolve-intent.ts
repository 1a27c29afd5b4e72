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
 * own key, so a rerun replays exactly the answers a first run received (an invalid answer
 * included) and asks only for the first attempt it lacks.
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
    if (r.kind === 'rejected') return { status: 'drop', reason: DROP_REJECTED, cacheHits: attempt + 1, invalid };
    const v = validateIntent(r.text, bounds);
    if (v.ok) return { status: 'intent', intent: v.intent, cacheHits: attempt + 1, invalid };
    invalid++;
  }
  return { status: 'drop', reason: DROP_INVALID, cacheHits: maxInvalidRetries + 1, invalid };
}
