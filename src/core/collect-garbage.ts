import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A stage's typed arrays live outside V8's heap, and V8 frees them only at a full collection,
// which it starts when its own heap grows, never because arrays were let go. After dedup's
// sketches (about 1 KB a conversation on realistic text) are done with, the heap is tens of
// megabytes and nothing prompts a collection: the arrays' gigabytes stayed resident while
// DuckDB took its share for the write-back. Stages call this where they let go of large
// arrays, and the runner after every stage.

let gc: (() => void) | undefined;

/** A full garbage collection now (V8's gc, exposed on first use when node was started without --expose-gc). */
export function collectGarbage(): void {
  if (!gc) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) gc = exposed;
    else {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
  }
  gc();
}
