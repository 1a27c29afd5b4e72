import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/** A buffered NDJSON writer that respects back-pressure. */
export class NdjsonWriter {
  private readonly out: WriteStream;
  private buf: string[] = [];
  private size = 0;
  constructor(path: string) {
    this.out = createWriteStream(path, { encoding: 'utf8' });
  }
  async write(value: unknown): Promise<void> {
    const s = JSON.stringify(value) + '\n';
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await once(this.out, 'finish');
  }
}
