import type { DuckDBValue } from '@duckdb/node-api';
import type { Db } from '../../core/db.js';
import { DETECT_CHARS, loadLanguageDetector } from '../../sources/detect-language.js';

/** What `language: detect` found in one source: conversations per label, and those it could not place. */
export interface DetectedLanguages {
  /** ISO 639-1 code -> conversations, most common first. */
  labels: Record<string, number>;
  /** Conversations the detector names no language for (no letters): their language is NULL. */
  undetected: number;
}

/** The table labelLanguages fills: one row per labelled conversation, keyed by its place in the sources. */
export const DETECTED_TABLE = 'normalize_detected_language';

/**
 * Labels the kept rows of one source with the detector's language for their user turns (joined
 * by newlines, the first DETECT_CHARS characters), NULL where it finds none, into DETECTED_TABLE
 * keyed by (src_index, source_file, ord): the key that orders the sources' rows, unique even
 * where conversation ids repeat. `from` is the sources' SELECT, `keys` the narrow table whose
 * drop_reason (repeats included) says which rows are kept. Streams only the texts it needs from
 * DuckDB and appends the labels through the second connection.
 */
export async function labelLanguages(db: Db, from: string, params: Record<string, DuckDBValue>, keys: string, srcIndex: number): Promise<DetectedLanguages> {
  const detect = await loadLanguageDetector();
  // Not TEMP: the appender writes through a second connection, which cannot see temp tables.
  await db.run(`CREATE TABLE IF NOT EXISTS ${DETECTED_TABLE} (src_index INTEGER, source_file VARCHAR, ord BIGINT, language VARCHAR)`);
  const app = await db.appender(DETECTED_TABLE);
  try {
    // Rows the sources drop themselves are not read; repeated ids are, and left out of the counts below.
    const result = await db.conn.stream(
      `SELECT source_file, ord,
              left(array_to_string(list_transform(list_filter(messages, m -> m.role = 'user'), m -> m.content), chr(10)), ${DETECT_CHARS}) AS text
       FROM (${from}) WHERE src_index = ${srcIndex} AND drop_reason IS NULL`,
      params,
    );
    for await (const chunk of result.yieldRowsJs()) {
      for (const row of chunk) {
        const label = detect((row[2] as string | null) ?? '');
        app.appendInteger(srcIndex);
        app.appendVarchar(row[0] as string);
        app.appendBigInt(row[1] as bigint);
        if (label === null) app.appendNull();
        else app.appendVarchar(label);
        app.endRow();
      }
    }
  } finally {
    app.closeSync();
  }
  const rows = await db.all<{ language: string | null; n: unknown }>(
    `SELECT d.language, count(*) AS n FROM ${DETECTED_TABLE} d
     JOIN ${keys} k ON k.src_index = d.src_index AND k.source_file = d.source_file AND k.ord = d.ord
     WHERE d.src_index = ${srcIndex} AND k.drop_reason IS NULL GROUP BY d.language`,
  );
  let undetected = 0;
  const counts: [string, number][] = [];
  for (const r of rows) {
    const n = Number(r.n);
    if (r.language === null) undetected = n;
    else counts.push([r.language, n]);
  }
  const labels = Object.fromEntries(counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  return { labels, undetected };
}
