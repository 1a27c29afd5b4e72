export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/** Longest wait a server's Retry-After may impose; past that the header is likely bogus. */
const RETRY_AFTER_CEILING_MS = 10 * 60_000;

/** The server's Retry-After in ms (retry-after-ms, seconds, or an HTTP date), if any. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms);
  const ra = headers.get('retry-after');
  if (ra === null || ra.trim() === '') return null;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra) * 1000;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Wait before retry number `retry` (0-based). A server's Retry-After wins (it knows when
 * capacity returns); otherwise exponential backoff with equal jitter, so that many clients
 * that failed together do not come back together.
 */
export function retryDelayMs(retry: number, headers: Headers | undefined, o: BackoffOptions, random: () => number = Math.random): number {
  const told = retryAfterMs(headers);
  if (told !== null) return Math.min(told, RETRY_AFTER_CEILING_MS);
  const base = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(retry, 30));
  return base / 2 + random() * (base / 2);
}
