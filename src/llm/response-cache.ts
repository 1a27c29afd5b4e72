import { closeSync, fdatasync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { redactSecrets } from '../core/redact-secrets.js';

/** What the endpoint said to one request. */
export type CachedResponse =
  /** An answer (text null when the model returned no content), with its token usage. */
  | { kind: 'answer'; text: string | null; promptTokens: number; completionTokens: number }
  /** The endpoint refused the request itself (e.g. 400: too long, content filter); asking again would not help. */
  | { kind: 'rejected'; message: string };

interface Line {
  k: string;
  t?: string | null;
  u?: [number, number];
  x?: string;
}

export interface ResponseCacheOptions {
  /** fsync at most this often; a kill loses nothing written (the OS has it), a power cut loses at most this much. */
  syncEveryMs?: number;
}

/**
 * Answers by request key, as an append-only JSONL file: each answer is written the moment it
 * arrives, so a crash loses only requests in flight. It lives outside any stage's output
 * directory, which the runner removes when a stage fails. A torn last line (a kill in the
 * middle of a write) is cut off when the file is opened again.
 */
export class ResponseCache {
  private readonly map = new Map<string, CachedResponse>();
  /** Keys answered since this process opened the cache (not hits). */
  private readonly fresh = new Set<string>();
  private fd: number | null;
  private dirty = false;
  private syncing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly syncEveryMs: number;
  /** Entries read from disk when opened. */
  loaded = 0;
  /** Lines that were not valid entries (skipped). */
  skipped = 0;

  private constructor(
    readonly path: string,
    fd: number,
    o: ResponseCacheOptions,
  ) {
    this.fd = fd;
    this.syncEveryMs = o.syncEveryMs ?? 200;
  }

  static async open(path: string, o: ResponseCacheOptions = {}): Promise<ResponseCache> {
    await mkdir(dirname(path), { recursive: true });
    const fd = openSync(path, 'a+');
    const cache = new ResponseCache(path, fd, o);
    cutTornTail(fd);
    await cache.load();
    return cache;
  }

  private async load(): Promise<void> {
    const lines = createInterface({ input: createReadStream(this.path, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line) continue;
      let l: Line;
      try {
        l = JSON.parse(line) as Line;
      } catch {
        this.skipped++;
        continue;
      }
      if (typeof l.k !== 'string') {
        this.skipped++;
        continue;
      }
      if (typeof l.x === 'string') this.map.set(l.k, { kind: 'rejected', message: l.x });
      else this.map.set(l.k, { kind: 'answer', text: l.t ?? null, promptTokens: l.u?.[0] ?? 0, completionTokens: l.u?.[1] ?? 0 });
      this.loaded++;
    }
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): CachedResponse | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Whether the entry was written by this process rather than found on disk. */
  isFresh(key: string): boolean {
    return this.fresh.has(key);
  }

  /** Stores the response with every registered secret redacted (an endpoint may echo the key); get() returns the redacted form. */
  put(key: string, response: CachedResponse): void {
    if (this.fd === null) throw new Error('response cache is closed');
    const r: CachedResponse =
      response.kind === 'answer' ? { ...response, text: response.text === null ? null : redactSecrets(response.text) } : { kind: 'rejected', message: redactSecrets(response.message) };
    const line: Line = r.kind === 'answer' ? { k: key, t: r.text, u: [r.promptTokens, r.completionTokens] } : { k: key, x: r.message };
    // One write() of a whole line on an O_APPEND descriptor: a SIGKILL after it returns cannot lose it.
    writeSync(this.fd, JSON.stringify(line) + '\n');
    this.map.set(key, r);
    this.fresh.add(key);
    this.dirty = true;
    if (!this.timer) {
      this.timer = setTimeout(() => this.syncSoon(), this.syncEveryMs);
      this.timer.unref();
    }
  }

  private syncSoon(): void {
    this.timer = null;
    if (!this.dirty || this.syncing || this.fd === null) return;
    this.dirty = false;
    this.syncing = true;
    fdatasync(this.fd, () => {
      this.syncing = false;
    });
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.syncing) await new Promise((r) => setTimeout(r, 1));
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    closeSync(fd);
  }
}

function cutTornTail(fd: number): void {
  const size = fstatSync(fd).size;
  if (size === 0) return;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  if (last[0] === 0x0a) return;
  // Scan back for the last complete line.
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const i = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (i >= 0) {
      ftruncateSync(fd, start + i + 1);
      return;
    }
    end = start;
  }
  ftruncateSync(fd, 0);
}
