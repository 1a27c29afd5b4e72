import type { DuckDBAppender } from '@duckdb/node-api';
import { join } from 'node:path';
import { sqlString } from '../../core/db.js';
import type { Db } from '../../core/db.js';
import { DATA_FILE, DROPS_FILE, STAGE_PARQUET } from '../../core/stage.js';

/**
 * Where intents and drops go while conversations stream: two tables filled through
 * appenders on Db's side connection (nothing may touch the streaming one), joined back to
 * the input in its file order at the end, so the output does not depend on the order in
 * which answers arrived.
 */
export class IntentSink {
  intents = 0;
  readonly drops = new Map<string, number>();

  private constructor(
    private readonly db: Db,
    private readonly intentAppender: DuckDBAppender,
    private readonly dropAppender: DuckDBAppender,
  ) {}

  static async open(db: Db): Promise<IntentSink> {
    await db.run('CREATE OR REPLACE TABLE intents (conversation_id VARCHAR, intent VARCHAR)');
    await db.run('CREATE OR REPLACE TABLE intent_drops (conversation_id VARCHAR, reason VARCHAR)');
    const a = await db.appender('intents');
    const d = await db.appender('intent_drops');
    return new IntentSink(db, a, d);
  }

  intent(conversationId: string, intent: string): void {
    this.intentAppender.appendVarchar(conversationId);
    this.intentAppender.appendVarchar(intent);
    this.intentAppender.endRow();
    this.intents++;
  }

  drop(conversationId: string, reason: string): void {
    this.dropAppender.appendVarchar(conversationId);
    this.dropAppender.appendVarchar(reason);
    this.dropAppender.endRow();
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  /** Close the appenders (call before running any other query). */
  close(): void {
    this.intentAppender.closeSync();
    this.dropAppender.closeSync();
  }

  /** data.parquet (input rows with their intent) and drops.parquet, both in input order. */
  async write(input: string, dir: string, backendLabel: string): Promise<void> {
    await this.db.run(
      `COPY (SELECT c.* EXCLUDE (file_row_number), i.intent, $backend AS intent_backend
             FROM read_parquet(${sqlString(input)}, file_row_number = true) c
             JOIN intents i USING (conversation_id)
             ORDER BY c.file_row_number)
       TO ${sqlString(join(dir, DATA_FILE))} (${STAGE_PARQUET})`,
      { backend: backendLabel },
    );
    if (this.drops.size > 0) {
      await this.db.run(
        `COPY (SELECT c.conversation_id, d.reason
               FROM read_parquet(${sqlString(input)}, file_row_number = true) c
               JOIN intent_drops d USING (conversation_id)
               ORDER BY c.file_row_number)
         TO ${sqlString(join(dir, DROPS_FILE))} (${STAGE_PARQUET})`,
      );
    }
    await this.db.run('DROP TABLE intents');
    await this.db.run('DROP TABLE intent_drops');
  }
}
