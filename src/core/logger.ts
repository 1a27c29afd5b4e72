import { redactSecrets } from './redact-secrets.js';

/** Human lines on a TTY, one JSON object per line with --json (for CI and log collectors). */
export interface Logger {
  info(event: string, message: string, fields?: Record<string, unknown>): void;
  warn(event: string, message: string, fields?: Record<string, unknown>): void;
  readonly json: boolean;
}

export function createLogger(opts: { json?: boolean; quiet?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const json = opts.json ?? false;
  const emit = (level: string, event: string, message: string, fields?: Record<string, unknown>) => {
    if (opts.quiet && level === 'info') return;
    // Messages and fields can quote an endpoint's answer or error body, which can quote a key.
    if (json) stream.write(redactSecrets(JSON.stringify({ level, event, message, ...fields })) + '\n');
    else stream.write(redactSecrets(`${level === 'warn' ? 'warning: ' : ''}${message}`) + '\n');
  };
  return {
    json,
    info: (e, m, f) => emit('info', e, m, f),
    warn: (e, m, f) => emit('warn', e, m, f),
  };
}

export const silentLogger: Logger = { json: false, info() {}, warn() {} };
