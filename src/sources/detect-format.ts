import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { sniffCompression, sniffJsonFile, type Compression, type JsonLayout } from './read-json-records.js';

export type InputFormat = { kind: 'parquet' } | { kind: 'json'; compression: Compression; layout: JsonLayout } | { kind: 'csv'; compression: Compression };

/** The format a `format:` key forces. */
export type ForcedFormat = 'parquet' | 'jsonl' | 'json' | 'csv';

async function head(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * A file's format from its content (Parquet's PAR1 magic; gzip or zstd; a JSON array, JSON
 * lines, else CSV), or the one `format:` forces, whose compression is still sniffed. The
 * extension only breaks the tie between CSV and text that is neither.
 */
export async function detectFormat(path: string, forced?: ForcedFormat): Promise<InputFormat> {
  if (forced === 'parquet') return { kind: 'parquet' };
  const h = await head(path, 4);
  if (!forced && h.length === 4 && h.toString('latin1') === 'PAR1') return { kind: 'parquet' };
  const compression = sniffCompression(h);
  if (forced === 'csv') return { kind: 'csv', compression };
  if (forced === 'jsonl' || forced === 'json') return { kind: 'json', compression, layout: forced === 'json' ? 'array' : 'lines' };
  const name = path.replace(/\.(gz|zst|zstd)$/i, '');
  if (['.csv', '.tsv'].includes(extname(name).toLowerCase())) return { kind: 'csv', compression };
  const info = await sniffJsonFile(path);
  return { kind: 'json', ...info };
}
