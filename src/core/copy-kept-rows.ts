import { sqlString, toNumber, type Db } from './db.js';
import { STAGE_PARQUET } from './stage.js';

/**
 * COPY the rows of a Parquet file that `keep` marks ('1' at a row's file position, '0' where
 * it is dropped: one character per row) to `to`, in the file's order. The mask is one BIT
 * constant the scan tests by row number, so the copy is a filtered scan, which DuckDB runs on
 * all its threads and keeps in order; a POSITIONAL JOIN with a table of decisions does the
 * same on one thread (the 1M realistic filter stage's data.parquet: 40.2 s against 36.6 s).
 */
export async function copyKeptRows(db: Db, input: string, keep: string, to: string): Promise<void> {
  const { n } = await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(input)})`);
  if (keep.length !== toNumber(n)) throw new Error(`copyKeptRows: a mask of ${keep.length} rows for ${String(n)} in ${input}`);
  if (!/^[01]*$/.test(keep)) throw new Error('copyKeptRows: the mask holds characters other than 0 and 1');
  const where = keep.length === 0 ? 'false' : 'get_bit($keep::BIT, file_row_number::INTEGER) = 1';
  await db.run(
    `COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(input)}, file_row_number = true) WHERE ${where})
     TO ${sqlString(to)} (${STAGE_PARQUET})`,
    keep.length === 0 ? undefined : { keep },
  );
}
