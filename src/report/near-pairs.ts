import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlList, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';

/** Written by the dedup stage beside its clusters: every candidate pair it scored. */
export const NEAR_PAIRS_FILE = 'near_pairs.parquet';
/** Pairs shown on each side of the threshold. */
export const NEAR_PAIRS_SHOWN = 5;

export interface NearPair {
  a: string;
  b: string;
  similarity: number;
  merged: boolean;
  /** The first user turns; null when the file has no text columns (the report reads them then). */
  text_a: string | null;
  text_b: string | null;
}

export interface NearPairs {
  /** Pairs in the file. */
  count: number;
  /** The most similar pairs that were not merged: what the threshold just missed. */
  closestUnmerged: NearPair[];
  /** The least similar pairs that were merged: what the threshold just let in. */
  loosestMerged: NearPair[];
}

const TEXT_COLUMNS = [['text_a', 'text_b'], ['a_text', 'b_text']] as const;

/** The near-misses of a dedup stage directory, or null when the run did not record its pairs. */
export async function nearPairs(db: Db, dedupDir: string): Promise<NearPairs | null> {
  const path = join(dedupDir, NEAR_PAIRS_FILE);
  if (!(await stat(path).then((s) => s.isFile(), () => false))) return null;
  const file = sqlList([path]);
  const cols = (await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${file})`)).map((r) => r.column_name);
  const missing = ['a', 'b', 'similarity', 'merged'].filter((c) => !cols.includes(c));
  if (missing.length) throw new SourceError(`${path} lacks the column(s) ${missing.join(', ')} (has ${cols.join(', ')}): it is not a near-pairs file of this version. Rerun the dedup stage, then build the report.`);
  const texts = TEXT_COLUMNS.find(([x, y]) => cols.includes(x) && cols.includes(y));
  const textSql = texts ? `${texts[0]}::VARCHAR AS text_a, ${texts[1]}::VARCHAR AS text_b` : 'NULL::VARCHAR AS text_a, NULL::VARCHAR AS text_b';
  const side = (merged: boolean, order: string) =>
    db.all<NearPair>(
      `SELECT a::VARCHAR AS a, b::VARCHAR AS b, similarity::DOUBLE AS similarity, merged, ${textSql} FROM read_parquet(${file})
       WHERE merged IS ${merged ? 'TRUE' : 'FALSE'} ORDER BY similarity ${order}, a, b LIMIT ${NEAR_PAIRS_SHOWN}`,
    );
  const count = Number((await db.all<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${file})`))[0]!.n);
  return { count, closestUnmerged: await side(false, 'DESC'), loosestMerged: await side(true, 'ASC') };
}
