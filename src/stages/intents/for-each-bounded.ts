/**
 * Starts work for rows as they stream, with at most `window` unfinished at once (the stream
 * is not read further while the window is full, so memory stays bounded by the window, not
 * the corpus). `start` returns null for a row settled at once. Stops reading at the first
 * failure or when `stopped()` says so, waits for the work already started, then rethrows
 * the first failure.
 */
export async function forEachBounded<T>(
  batches: AsyncIterable<readonly T[]>,
  window: number,
  start: (row: T) => Promise<void> | null,
  stopped: () => boolean,
): Promise<void> {
  let pending = 0;
  let wake: (() => void) | null = null;
  let failure: { e: unknown } | null = null;
  const wait = () => new Promise<void>((res) => (wake = res));
  try {
    outer: for await (const rows of batches) {
      for (const row of rows) {
        if (failure || stopped()) break outer;
        const work = start(row);
        if (!work) continue;
        pending++;
        work
          .catch((e: unknown) => {
            failure ??= { e };
          })
          .finally(() => {
            pending--;
            wake?.();
          });
        while (pending >= window) await wait();
      }
    }
  } finally {
    while (pending > 0) await wait();
  }
  if (failure) throw (failure as { e: unknown }).e;
}
