// A small error taxonomy. Only the CLI maps these to exit codes and messages;
// every message says what went wrong, where, and what to do next.

export class UserlmError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  path: string;
  message: string;
}

export function formatConfigIssue(i: ConfigIssue): string {
  const where = i.line === undefined ? i.file : `${i.file}:${i.line}${i.column === undefined ? '' : `:${i.column}`}`;
  return `${where} ${i.path || '(root)'}: ${i.message}`;
}

/** A pipeline file that cannot be used; carries every problem found, not just the first. */
export class ConfigError extends UserlmError {
  override readonly exitCode = 2;
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(
      `${issues.length} problem${issues.length === 1 ? '' : 's'} in the pipeline file:\n` +
        issues.map((i) => `  ${formatConfigIssue(i)}`).join('\n'),
    );
    this.issues = issues;
  }
}

/** Input data that cannot be read or mapped (missing file, wrong columns, corrupt line). */
export class SourceError extends UserlmError {
  override readonly exitCode = 3;
}

/** A stage that failed or broke an invariant (e.g. rows in != rows out + drops). */
export class StageError extends UserlmError {
  override readonly exitCode = 4;
}

/** A transient failure worth retrying (network, 429, 5xx). */
export class RetryableError extends UserlmError {
  override readonly exitCode = 5;
}

/** The Hub refused the credentials: no token, a rejected one, or no access (gated, not owner). */
export class AuthError extends UserlmError {
  override readonly exitCode = 6;
}
