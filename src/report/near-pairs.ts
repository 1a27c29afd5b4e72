import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlList, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';

/** Written by the dedup stage beside its clusters: every candidate pair it scored. */
import { NEAR_PAIRS_FILE } from '../stages/dedup/dedup-stage.js';

export { NEAR_PAIRS_FILE };
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
  // The dedup stage writes (kind near_miss | weakest_merge, rank, similarity, a_id, b_id, a_text, b_text).
  if (['kind', 'a_id', 'b_id'].every((c) => cols.includes(c))) {
    const from = `(SELECT a_id AS a, b_id AS b, similarity, kind = 'weakest_merge' AS merged${cols.includes('a_text') ? ', a_text, b_text' : ''} FROM read_parquet(${file}))`;
    return readPairs(db, from, cols.includes('a_text') ? ['a_text', 'b_text'] : null);
  }
  const missing = ['a', 'b', 'similarity', 'merged'].filter((c) => !cols.includes(c));
  if (missing.length) throw new SourceError(`${path} lacks the column(s) ${missing.join(', ')} (has ${cols.join(', ')}): it is not a near-pairs file of this version. Rerun the dedup stage, then build the report.`);
  const texts = TEXT_COLUMNS.find(([x, y]) => cols.includes(x) && cols.includes(y));
  return readPairs(db, `read_parquet(${file})`, texts ? [texts[0], texts[1]] : null);
}

/** The closest unmerged and the loosest merged pairs of a relation (a, b, similarity, merged[, texts]). */
async function readPairs(db: Db, from: string, texts: readonly [string, string] | null): Promise<NearPairs> {
  const textSql = texts ? `${texts[0]}::VARCHAR AS text_a, ${texts[1]}::VARCHAR AS text_b` : 'NULL::VARCHAR AS text_a, NULL::VARCHAR AS text_b';
  const side = (merged: boolean, order: string) =>
    db.all<NearPair>(
      `SELECT a::VARCHAR AS a, b::VARCHAR AS b, similarity::DOUBLE AS similarity, merged, ${textSql} FROM ${from}
       WHERE merged IS ${merged ? 'TRUE' : 'FALSE'} ORDER BY similarity ${order}, a, b LIMIT ${NEAR_PAIRS_SHOWN}`,
    );
  const count = Number((await db.all<{ n: unknown }>(`SELECT count(*) AS n FROM ${from}`))[0]!.n);
  return { count, closestUnmerged: await side(false, 'DESC'), loosestMerged: await side(true, 'ASC') };
}
