import { sqlList, sqlString, toNumber, type Db } from '../core/db.js';
import { FIRST_USER_TURN_SQL } from '../stages/conversation-sql.js';

export interface ConversationText {
  /** The first four messages. */
  head: { role: string; content: string }[];
  firstUserTurn: string;
  /** The intent column, when the files have one. */
  intent: string | null;
}

/**
 * The texts of a few conversations in a stage's files. DuckDB decodes a whole row group of
 * message lists to read one row of it (at 1M conversations a filter on conversation_id still
 * decoded every row group: 4 s per file), so the rows are found first in the narrow id
 * column, and then only the row groups holding them are read, by file_row_number.
 */
export async function conversationTexts(db: Db, files: string[], ids: Iterable<string>, withIntent: boolean): Promise<Map<string, ConversationText>> {
  const out = new Map<string, ConversationText>();
  const wanted = [...new Set(ids)];
  if (!files.length || !wanted.length) return out;
  const rows = await db.all<{ filename: string; file_row_number: unknown }>(
    `SELECT filename, file_row_number FROM read_parquet(${sqlList(files)}, filename = true, file_row_number = true)
     WHERE conversation_id IN (SELECT unnest(from_json($ids, '["VARCHAR"]'))) ORDER BY filename, file_row_number`,
    { ids: JSON.stringify(wanted) },
  );
  const byFile = new Map<string, number[]>();
  for (const r of rows) byFile.set(r.filename, [...(byFile.get(r.filename) ?? []), toNumber(r.file_row_number)]);
  for (const [file, numbers] of byFile) {
    // Row numbers are integers from the query above, never user text.
    const found = await db.all<{ conversation_id: string; head: ConversationText['head']; first_turn: string; intent: string | null }>(
      `SELECT conversation_id, messages[1:4] AS head, ${FIRST_USER_TURN_SQL} AS first_turn, ${withIntent ? 'intent' : 'NULL::VARCHAR'} AS intent
       FROM read_parquet(${sqlString(file)}, file_row_number = true) WHERE file_row_number IN (${numbers.join(', ')}) ORDER BY file_row_number`,
    );
    // The first row of an id wins, as any_value would pick in a single file.
    for (const f of found) if (!out.has(f.conversation_id)) out.set(f.conversation_id, { head: f.head ?? [], firstUserTurn: f.first_turn, intent: f.intent });
  }
  return out;
}
