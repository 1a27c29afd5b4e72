export type OverflowPolicy = 'truncate_history' | 'drop';

export interface SampleFit {
  /** Tokens of the sample as trained: after truncation, or as it was for a dropped one. */
  tokens: number;
  /** Oldest history messages removed to fit (always whole user/assistant exchanges). */
  historyDropped: number;
  tooLong: boolean;
}

/**
 * Fit one sample into maxLen. fixed: tokens that always stay (BOS, system intent, target
 * turn); history[0..n): per-message token counts, oldest first, in user/assistant pairs.
 * The target is what the model learns, so history goes first, oldest exchange first; a
 * sample whose fixed part alone overflows is dropped whatever the policy.
 */
export function fitSample(fixed: number, history: ArrayLike<number>, n: number, maxLen: number, policy: OverflowPolicy): SampleFit {
  let full = fixed;
  for (let i = 0; i < n; i++) full += history[i]!;
  if (full <= maxLen) return { tokens: full, historyDropped: 0, tooLong: false };
  if (policy === 'drop' || fixed > maxLen) return { tokens: full, historyDropped: 0, tooLong: true };
  let total = full;
  let start = 0;
  while (total > maxLen && start < n) {
    total -= history[start]! + (start + 1 < n ? history[start + 1]! : 0);
    start += 2;
  }
  return { tokens: total, historyDropped: Math.min(start, n), tooLong: false };
}
