import cliProgress from 'cli-progress';
import type { Logger } from './logger.js';

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

/**
 * A live bar with rate and ETA on a terminal; periodic JSON events with --json; nothing
 * otherwise (CI logs stay short). `detail` adds a short text to the bar and its fields to the
 * JSON events (e.g. tokens and cost so far).
 */
export function startProgress(
  log: Logger,
  label: string,
  total: number,
  unit = 'rows',
  detail?: () => { text: string; fields: Record<string, unknown> },
): Progress {
  if (log.json) {
    let done = 0;
    let last = performance.now();
    const started = last;
    return {
      tick(n = 1) {
        done += n;
        const now = performance.now();
        if (now - last > 5000) {
          last = now;
          const rate = done / ((now - started) / 1000);
          log.info('progress', label, { label, done, total, unit, rate: Math.round(rate), eta_s: rate > 0 ? Math.round((total - done) / rate) : null, ...detail?.().fields });
        }
      },
      stop() {},
    };
  }
  if (!process.stderr.isTTY || total <= 0) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `  ${label} [{bar}] {percentage}% {value}/{total} ${unit} | {rate}/s | ETA {eta_formatted}${detail ? ' | {detail}' : ''}`, hideCursor: true, stream: process.stderr, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  let done = 0;
  bar.start(total, 0, { rate: 0, detail: detail?.().text ?? '' });
  return {
    tick(n = 1) {
      done += n;
      bar.update(done, { rate: Math.round(done / Math.max(0.001, (performance.now() - started) / 1000)), detail: detail?.().text ?? '' });
    },
    stop() {
      bar.stop();
    },
  };
}
