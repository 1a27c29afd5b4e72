import type { Db } from '../../core/db.js';
import { DETECT_CHARS, loadLanguageDetector } from '../../sources/detect-language.js';

/** What `language: detect` found in one source: conversations per label, and those it could not place. */
export interface DetectedLanguages {
  /** ISO 639-1 code -> conversations, most common first. */
  labels: Record<string, number>;
  /** Conversations the detector names no language for (no letters): their language is NULL. */
  undetected: number;
}

/**
 * Sets `language` of the kept rows of one source in `table` to the detector's label for their
 * user turns (joined by newlines, the first DETECT_CHARS characters), NULL where it finds none.
 * Streams the texts from DuckDB and appends the labels through the second connection; kept
 * conversation ids are unique by then (repeats are duplicate_id drops), so they key the update.
 */
export async function labelLanguages(db: Db, table: string, srcIndex: number): Promise<DetectedLanguages> {
  const detect = await loadLanguageDetector();
  // Not TEMP: the appender writes through a second connection, which cannot see temp tables.
  await db.run('CREATE OR REPLACE TABLE detected_language (conversation_id VARCHAR, language VARCHAR)');
  const app = await db.appender('detected_language');
  const counts = new Map<string, number>();
  let undetected = 0;
  try {
    const result = await db.conn.stream(
      `SELECT conversation_id,
              left(array_to_string(list_transform(list_filter(messages, m -> m.role = 'user'), m -> m.content), chr(10)), ${DETECT_CHARS}) AS text
       FROM ${table} WHERE src_index = $i AND drop_reason IS NULL`,
      { i: srcIndex },
    );
    for await (const chunk of result.yieldRowsJs()) {
      for (const row of chunk) {
        const label = detect((row[1] as string | null) ?? '');
        app.appendVarchar(row[0] as string);
        if (label === null) {
          app.appendNull();
          undetected++;
        } else {
          app.appendVarchar(label);
          counts.set(label, (counts.get(label) ?? 0) + 1);
        }
        app.endRow();
      }
    }
  } finally {
    app.closeSync();
  }
  await db.run(
    `UPDATE ${table} SET language = d.language FROM detected_language d
     WHERE ${table}.src_index = $i AND ${table}.drop_reason IS NULL AND ${table}.conversation_id = d.conversation_id`,
    { i: srcIndex },
  );
  await db.run('DROP TABLE detected_language');
  const labels = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)));
  return { labels, undetected };
}
