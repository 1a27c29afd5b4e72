import { StageError, UserlmError } from './errors.js';

// errno codes (Node) and DuckDB's wording for the same conditions: DuckDB reports its I/O
// failures as message text only.
const FULL = /\b(ENOSPC|EDQUOT|EFBIG)\b|No space left on device|Disk quota exceeded|File too large/i;
const READ_ONLY = /\b(EROFS|EACCES|EPERM)\b|Read-only file system|Permission denied|Operation not permitted/i;

const TOO_MANY = /\b(EMFILE|ENFILE)\b|Too many open files/i;

/** The error for running out of file descriptors, or null when e is something else. */
export function tooManyOpenFiles(e: unknown, doing?: string): StageError | null {
  const text = `${(e as NodeJS.ErrnoException)?.code ?? ''} ${describe(e)}`;
  if (!TOO_MANY.test(text)) return null;
  return new StageError(
    `${doing ? `${doing}: ` : ''}too many open files (${describe(e)}). The open-file limit of this shell is too low (\`ulimit -n\`); ` +
      'raise it (e.g. `ulimit -n 4096`), then rerun: finished stages are kept.',
    { cause: e },
  );
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return String(err?.message ?? e).split('\n')[0]!.trim();
}

/**
 * The error to show for a failed file-system operation: a full disk or a read-only
 * directory says so and what to do (finished stages are kept); anything else keeps its
 * message. Returns UserlmErrors unchanged.
 */
export function fsFailure(e: unknown, doing: string): UserlmError {
  if (e instanceof UserlmError) return e;
  const text = `${(e as NodeJS.ErrnoException)?.code ?? ''} ${describe(e)}`;
  const limit = tooManyOpenFiles(e, doing);
  if (limit) return limit;
  if (FULL.test(text)) {
    return new StageError(
      `${doing}: the disk is full or a file size limit was hit (${describe(e)}). ` +
        'Free space (or point run_dir/out_dir at a larger disk; engine.memory_limit spills go to run_dir too), then rerun: finished stages are kept.',
      { cause: e },
    );
  }
  if (READ_ONLY.test(text)) {
    return new StageError(
      `${doing}: a read-only file system or no permission (${describe(e)}). Make the directory writable for this user, or set run_dir/out_dir in the pipeline file to a writable place, then rerun.`,
      { cause: e },
    );
  }
  return new StageError(`${doing}: ${describe(e)}`, { cause: e });
}
