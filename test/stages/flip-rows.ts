import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqlString, type Db } from '../../src/core/db.js';
import type { ChatMessage } from '../../src/stages/flip/flip-conversation.js';

/** Conversation rows as the shards stage expands them: every sample kept, none truncated. */
export async function writeConversations(db: Db, dir: string, rows: { conversation_id: string; intent: string; messages: ChatMessage[] }[]): Promise<string> {
  const json = join(dir, 'conv.json');
  const file = join(dir, 'conv.parquet');
  writeFileSync(json, rows.map((r) => {
    const n = r.messages.length / 2 + 1;
    return JSON.stringify({ ...r, source: 's', split: 'train', user_key: 'u', country: 'X', language: 'English', num_tokens: Array.from({ length: n }, (_, t) => 10 * t), num_target_tokens: Array.from({ length: n }, () => 1), history_messages_dropped: Array.from({ length: n }, () => 0), too_long: Array.from({ length: n }, () => false) });
  }).join('\n'));
  await db.run(
    `COPY (SELECT * FROM read_json(${sqlString(json)}, columns = {conversation_id: 'VARCHAR', intent: 'VARCHAR', messages: 'STRUCT(role VARCHAR, content VARCHAR)[]', source: 'VARCHAR', split: 'VARCHAR', user_key: 'VARCHAR', country: 'VARCHAR', language: 'VARCHAR', num_tokens: 'INTEGER[]', num_target_tokens: 'INTEGER[]', history_messages_dropped: 'INTEGER[]', too_long: 'BOOLEAN[]'}))
     TO ${sqlString(file)} (FORMAT parquet)`,
  );
  return file;
}
