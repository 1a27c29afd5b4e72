import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { SourceError } from '../core/errors.js';
import { parseJsonRecord, type JsonlRecord } from './scan-jsonl.js';

/**
 * DuckDB's read_json maximum_object_size for every JSON source: 128 MiB, far past any real
 * conversation line (the hostile tests carry 50 MB turns). DuckDB sizes its read buffers from
 * it (two buffers of twice the size, whatever the file), so 1 GiB took 4 GiB of DuckDB's
 * share of engine.memory_limit on a 10 kB file.
 */
export const MAX_JSON_OBJECT_BYTES = 134217728;

export type Compression = 'none' | 'gzip' | 'zstd';

/** The compression a file's first bytes announce (gzip 1f 8b, zstd 28 b5 2f fd), whatever its name. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of createReadStream(path, { start: 0, end: n - 1 }) as AsyncIterable<Buffer>) {
    parts.push(c);
    got += c.length;
  }
  return Buffer.concat(parts, got);
}

/** The file's bytes, decompressed as its content says. */
async function* decompressed(path: string, compression: Compression): AsyncGenerator<Buffer> {
  const raw = createReadStream(path);
  if (compression === 'gzip') {
    try {
      for await (const c of raw.pipe(createGunzip()) as AsyncIterable<Buffer>) yield c;
    } catch (e) {
      throw new SourceError(`${path}: the gzip stream is damaged (${(e as Error).message}); download the file again, or check it with \`gzip -t\`.`);
    }
    return;
  }
  if (compression === 'zstd') {
    const queue: Buffer[] = [];
    const d = new Decompress((chunk) => queue.push(Buffer.from(chunk)));
    try {
      for await (const c of raw as AsyncIterable<Buffer>) {
        d.push(c);
        while (queue.length) yield queue.shift()!;
      }
      d.push(new Uint8Array(0), true);
    } catch (e) {
      throw new SourceError(`${path}: the zstd stream is damaged (${(e as Error).message}); download the file again, or check it with \`zstd -t\`.`);
    }
    while (queue.length) yield queue.shift()!;
    return;
  }
  for await (const c of raw as AsyncIterable<Buffer>) yield c;
}

export type JsonLayout = 'lines' | 'array';

export interface JsonFileInfo {
  compression: Compression;
  layout: JsonLayout;
}

/** Compression and layout of a JSON file from its content: a first '[' means one JSON array. */
export async function sniffJsonFile(path: string): Promise<JsonFileInfo> {
  const compression = sniffCompression(await readHead(path, 4));
  for await (const c of decompressed(path, compression)) {
    let i = 0;
    if (c[0] === 0xef && c[1] === 0xbb && c[2] === 0xbf) i = 3;
    while (i < c.length && (c[i] === 0x20 || c[i] === 0x0a || c[i] === 0x0d || c[i] === 0x09)) i++;
    if (i < c.length) return { compression, layout: c[i] === 0x5b ? 'array' : 'lines' };
  }
  return { compression, layout: 'lines' };
}

/**
 * Every record of a JSON file: JSON lines or one JSON array of objects, plain, gzip or zstd.
 * Errors name the file, the line (of the decompressed text) and the fix for that layout.
 */
export async function* readJsonRecords(path: string, where: string, info?: JsonFileInfo): AsyncGenerator<JsonlRecord> {
  const { compression, layout } = info ?? (await sniffJsonFile(path));
  const label = compression === 'none' ? path : `${path} (${compression}, decompressed)`;
  if (layout === 'lines') {
    yield* linesOf(decompressed(path, compression), label, where);
    return;
  }
  yield* arrayElements(decompressed(path, compression), label, where);
}

async function* linesOf(chunks: AsyncIterable<Buffer>, label: string, where: string): AsyncGenerator<JsonlRecord> {
  let line = 0;
  let row = 0;
  let pending: Buffer[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const parse = (bytes: Buffer): JsonlRecord | null => {
    line++;
    const rec = parseJsonRecord(bytes, { label, line, row, where, decoder, layout: 'lines' });
    if (rec) row++;
    return rec;
  };
  for await (const chunk of chunks) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, start)) !== -1) {
      const piece = chunk.subarray(start, nl);
      const rec = parse(pending.length ? Buffer.concat([...pending, piece]) : piece);
      pending = [];
      if (rec) yield rec;
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) {
    const rec = parse(Buffer.concat(pending));
    if (rec) yield rec;
  }
}

/** Elements of one top-level JSON array, cut at depth-1 commas outside strings, each parsed alone. */
async function* arrayElements(chunks: AsyncIterable<Buffer>, label: string, where: string): AsyncGenerator<JsonlRecord> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const ws = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
  let depth = 0;
  let inString = false;
  let escape = false;
  let line = 1;
  let elemLine = 1;
  let row = 0;
  let closed = false;
  let open = false;
  let parts: Buffer[] = [];
  for await (const chunk of chunks) {
    let segStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === 10) line++;
      if (inString) {
        if (escape) escape = false;
        else if (b === 0x5c) escape = true;
        else if (b === 0x22) inString = false;
        continue;
      }
      if (closed) {
        if (!ws(b)) {
          throw new SourceError(`${label}:${line}: text after the closing ] of the JSON array in ${where}. The file must hold one JSON array (or one object per line): remove what follows it.`);
        }
        continue;
      }
      if (depth === 0) {
        if (b === 0x5b) depth = 1;
        else if (!ws(b) && !(b === 0xef || b === 0xbb || b === 0xbf)) {
          throw new SourceError(`${label}:${line}: expected a JSON array in ${where}. Set format: jsonl if the file holds one object per line.`);
        }
        continue;
      }
      if (depth === 1 && (b === 0x2c || b === 0x5d)) {
        if (open) {
          parts.push(chunk.subarray(segStart, i));
          const bytes = Buffer.concat(parts);
          parts = [];
          open = false;
          const rec = parseJsonRecord(bytes, { label, line: elemLine, row, where, decoder, layout: 'array' });
          if (rec) {
            row++;
            yield rec;
          }
        } else if (b === 0x2c || row > 0) {
          throw new SourceError(`${label}:${line}: an empty element (two commas, or a comma before ]) in the JSON array in ${where}. Repair the file at that line, then rerun.`);
        }
        if (b === 0x5d) {
          depth = 0;
          closed = true;
        }
        continue;
      }
      if (!open && !ws(b)) {
        open = true;
        segStart = i;
        elemLine = line;
      }
      if (b === 0x22) inString = true;
      else if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) depth--;
    }
    if (open) parts.push(chunk.subarray(segStart));
  }
  if (!closed) {
    throw new SourceError(`${label}:${line}: the JSON array is not closed (the file ends inside it) in ${where}. The file is cut short: download or export it again.`);
  }
}
