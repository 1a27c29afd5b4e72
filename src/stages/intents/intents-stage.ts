import { join } from 'node:path';
import { sqlString, toNumber } from '../../core/db.js';
import { startProgress } from '../../core/progress.js';
import { DATA_FILE, type StageSpec } from '../../core/stage.js';
import { templateIntent } from './template-intent.js';

/**
 * One intent per conversation. Conversations are streamed from DuckDB in chunks, the
 * backend writes intents through an appender, and SQL joins them back.
 */
export const intentsStage: StageSpec = {
  name: 'intents',
  version: 1,
  options: (p) => p.config.stages.intents,
  async run({ db, dir, input, log }) {
    await db.run('CREATE OR REPLACE TEMP TABLE intents (conversation_id VARCHAR, intent VARCHAR)');
    const appender = await db.conn.createAppender('intents', 'main', 'temp');
    // Counted before streaming: another query on the connection would end the stream.
    const total = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(input!)})`)).n);
    const result = await db.conn.stream(
      `SELECT conversation_id,
              coalesce(list_filter(messages, m -> m.role = 'user')[1].content, '') AS first_user,
              len(list_filter(messages, m -> m.role = 'user'))::INTEGER AS user_turns
       FROM read_parquet(${sqlString(input!)})`,
    );
    const progress = startProgress(log, 'intents', total, 'conversations');
    try {
      for await (const rows of result.yieldRowObjectJs()) {
        for (const r of rows) {
          appender.appendVarchar(String(r['conversation_id']));
          appender.appendVarchar(templateIntent(String(r['first_user']), Number(r['user_turns'])));
          appender.endRow();
        }
        progress.tick(rows.length);
      }
    } finally {
      progress.stop();
      appender.closeSync();
    }
    await db.run(
      `COPY (SELECT c.* EXCLUDE (file_row_number), i.intent, 'template' AS intent_backend
             FROM read_parquet(${sqlString(input!)}, file_row_number = true) c
             JOIN intents i USING (conversation_id)
             ORDER BY c.file_row_number)
       TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run('DROP TABLE intents');
    return {};
  },
};
