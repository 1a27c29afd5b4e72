import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';

export interface BatchInputFile {
  name: string;
  model: string;
  requests: number;
  bytes: number;
}

export interface BatchInputWriterOptions {
  dir: string;
  /** File names start with this (e.g. "input-r0"). */
  prefix: string;
  maxRequests: number;
  maxBytes: number;
}

/**
 * Batch API input files: JSONL of {custom_id, method, url, body}, rolled over before a file
 * would pass the request or byte limit, and one model per file (a new model starts a new
 * file, as the API requires).
 */
export class BatchInputWriter {
  readonly files: BatchInputFile[] = [];
  private fd: number | null = null;
  private current: BatchInputFile | null = null;
  private buffer: string[] = [];
  private bufferedBytes = 0;

  constructor(private readonly o: BatchInputWriterOptions) {
    mkdirSync(o.dir, { recursive: true });
  }

  add(customId: string, body: ChatCompletionCreateParamsNonStreaming): void {
    const line = JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body }) + '\n';
    const bytes = Buffer.byteLength(line);
    if (bytes > this.o.maxBytes) throw new Error(`one batch request is ${bytes} bytes, over the file limit of ${this.o.maxBytes}; lower stages.intents.conversation_max_chars`);
    const c = this.current;
    if (!c || c.model !== body.model || c.requests + 1 > this.o.maxRequests || c.bytes + bytes > this.o.maxBytes) this.roll(body.model);
    this.buffer.push(line);
    this.bufferedBytes += bytes;
    this.current!.requests++;
    this.current!.bytes += bytes;
    if (this.bufferedBytes > 1 << 20) this.flush();
  }

  private roll(model: string): void {
    this.closeCurrent();
    const name = `${this.o.prefix}-${String(this.files.length + 1).padStart(4, '0')}.jsonl`;
    this.fd = openSync(join(this.o.dir, name), 'w');
    this.current = { name, model, requests: 0, bytes: 0 };
    this.files.push(this.current);
  }

  private flush(): void {
    if (this.fd === null || this.buffer.length === 0) return;
    writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
    this.bufferedBytes = 0;
  }

  private closeCurrent(): void {
    if (this.fd === null) return;
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
  }

  /** Close the last file; the files are complete and on disk. */
  finish(): BatchInputFile[] {
    this.closeCurrent();
    return this.files;
  }
}
