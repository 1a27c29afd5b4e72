import type { Db } from './db.js';

/**
 * Creates `table` (a temp table) from `select(lo, hi)` over the ranges [0, step), [step,
 * 2 step), ... up to `end`, appended in that order. For per-row list aggregates that DuckDB
 * would hold in memory all at once (see aggregationRange); each select orders its own rows,
 * and a scan of the table then returns them in range order.
 */
export async function createTableInRanges(db: Db, table: string, end: number, step: number, select: (lo: number, hi: number) => string): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${select(0, Math.min(end, step))}`);
  for (let lo = step; lo < end; lo += step) await db.run(`INSERT INTO ${table} ${select(lo, Math.min(end, lo + step))}`);
}
