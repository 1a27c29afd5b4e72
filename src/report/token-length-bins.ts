import { sqlList, toNumber, type Db } from '../core/db.js';
import { splitOrder } from '../stages/shards/render-card.js';
import type { BinCount } from './report-charts.js';

/** 32 bins across the window: a sample can never be longer than max_seq_len. */
export const TOKEN_BINS = 32;

/** Sample token lengths of the shards, counted per split into fixed bins by DuckDB. */
export async function tokenLengthBins(db: Db, shards: string[], maxSeqLen: number): Promise<BinCount[]> {
  const width = Math.max(1, Math.ceil(maxSeqLen / TOKEN_BINS));
  const rows = await db.all<{ split: string; bin: number; n: unknown }>(
    `SELECT split, (floor(num_tokens / ${width}) * ${width})::INTEGER AS bin, count(*) AS n
     FROM read_parquet(${sqlList(shards)}) GROUP BY ALL ORDER BY 1, 2`,
  );
  const order = splitOrder([...new Set(rows.map((r) => r.split))]);
  return rows
    .map((r) => ({ group: r.split, bin: r.bin, bin_end: r.bin + width, n: toNumber(r.n) }))
    .sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group) || a.bin - b.bin);
}
