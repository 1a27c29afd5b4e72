import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString, toNumber } from '../../core/db.js';
import { sha256Hex } from '../../core/hash.js';
import { aggregationRange, duckdbMemoryLimitBytes, memoryPlan } from '../../core/memory-budget.js';
import { startProgress } from '../../core/progress.js';
import { createTableInRanges } from '../../core/table-in-ranges.js';
import { DATA_FILE, DROPS_FILE, NUM_SAMPLES_COLUMN, SAMPLE_DROPS_FILE, STAGE_PARQUET, defineStage } from '../../core/stage.js';
import { sampleIdSql } from '../flip/flip-stage.js';
import { intentsStage } from '../intents/intents-stage.js';
import { chatFormat, checkChatFormat } from './chat-format.js';
import type { ConversationBatch } from './count-batch.js';
import { countBatches, resolveTokenizeWorkers } from './count-batches.js';
import { loadTokenizer } from './load-tokenizer.js';

/**
 * Exact token counts of every sample as the trainer will see it, and the max_seq_len policy,
 * kept per conversation: data.parquet holds one row per conversation with lists indexed by
 * turn (num_tokens, num_target_tokens, history_messages_dropped, too_long), num_samples,
 * the samples it keeps, and the byte sizes of its messages (msg_sizes: role + content as
 * messageSizesSql counts them; content_bytes), which the shards stage plans files by. Each
 * conversation's text is read once and each message tokenized once (a sample's count is a
 * sum of its messages' counts), in worker threads, so the work is linear in the
 * conversations' text; the shards stage expands the samples from these lists.
 */
export interface TokenizeNotes {
  tokenizer: string;
  tokenizer_sha256: string;
  /** The chat format counted (see chat-format.ts). */
  format: string;
  max_seq_len: number;
  end_token: string;
  overflow: string;
  tokens: number;
  truncated_samples: number;
  too_long_samples: number;
  text_mchars_per_s: number | null;
  /** Worker threads that tokenized (0: the main thread; engine.threads sets it). The output does not depend on it. */
  workers: number;
}

/** A batch sent to a worker closes at this many characters of text, or of conversations. */
const BATCH_CHARS = 1 << 20;
const BATCH_CONVERSATIONS = 2048;

export const tokenizeStage = defineStage({
  name: 'tokenize',
  // 4: one row per conversation with per-sample lists instead of sample rows.
  // 5: files written with STAGE_PARQUET (zstd level 1).
  // 6: data.parquet carries each conversation's message byte sizes (msg_sizes, content_bytes)
  // for the shards stage, which then need not read the text to plan.
  version: 6,
  needs: { intents: intentsStage },
  map: {
    parquet: STAGE_PARQUET,
    order: { [DROPS_FILE]: 'conversation_id' },
    // A rate is one process's: a partitioned run's is in each partition's marker.
    mergeNotes: (parts: TokenizeNotes[]): TokenizeNotes => ({
      ...parts[0]!,
      tokens: parts.reduce((a, n) => a + n.tokens, 0),
      truncated_samples: parts.reduce((a, n) => a + n.truncated_samples, 0),
      too_long_samples: parts.reduce((a, n) => a + n.too_long_samples, 0),
      text_mchars_per_s: null,
    }),
  },
  options: (p) => ({ ...p.config.stages.tokenize, end_token: p.config.stages.flip.end_token }),
  async externalInputs(p) {
    const path = p.config.stages.tokenize.tokenizer_json;
    return path ? { tokenizer_sha256: sha256Hex(await readFile(path).catch(() => Buffer.from(''))) } : { tokenizer: 'bundled-llama3' };
  },
  async run({ db, pipeline, dir, input, needs, log }) {
    const o = pipeline.config.stages.tokenize;
    const endToken = pipeline.config.stages.flip.end_token;
    // Loaded here too: a bad tokenizer.json is a config error before any worker starts.
    const { name, sha256 } = await loadTokenizer({ tokenizerJson: o.tokenizer_json, endToken });
    const format = chatFormat(o.format);
    checkChatFormat(format);
    const from = `FROM read_parquet(${sqlString(needs.intents.data)}, file_row_number = true) i
                  WHERE i.conversation_id IN (SELECT conversation_id FROM read_parquet(${sqlString(input!)}))`;
    // Not TEMP: the appenders write through a second connection, which cannot see temp tables.
    await db.run('CREATE OR REPLACE TABLE tok_conv (pos BIGINT, conversation_id VARCHAR)');
    // One row per message (appending two small lists per conversation cost 15x more).
    await db.run('CREATE OR REPLACE TABLE tok_msg (pos BIGINT, idx INTEGER, msg_size INTEGER, content_bytes INTEGER)');
    await db.run(
      `CREATE OR REPLACE TABLE tok_samples (pos BIGINT, turn_index INTEGER, num_tokens INTEGER, num_target_tokens INTEGER,
         history_messages_dropped INTEGER, too_long BOOLEAN)`,
    );
    // Counted before streaming: another query on the connection would end the stream.
    const conversations = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n ${from}`)).n);
    const e = pipeline.config.engine;
    const workers = resolveTokenizeWorkers(e.threads, conversations, memoryPlan(e.memory_limit, e.threads, pipeline.file).maxWorkers);
    const convApp = await db.appender('tok_conv');
    const sampleApp = await db.appender('tok_samples');
    const msgApp = await db.appender('tok_msg');
    const result = await db.conn.stream(
      `SELECT i.file_row_number AS pos, i.conversation_id, i.intent,
              list_transform(i.messages, m -> m.role) AS roles, list_transform(i.messages, m -> m.content) AS contents
       ${from}`,
    );
    const progress = startProgress(log, 'tokenize', conversations, 'conversations');
    const started = performance.now();
    let chars = 0;
    // Positions and ids stay on this thread; only the texts go to the workers.
    // Each message's UTF-8 byte sizes (as messageSizesSql counts them: role + content, and the
    // content alone) are measured here from the strings this thread already holds, rather
    // than converting two more list columns per row from DuckDB on this feeding thread.
    const pending: { pos: bigint[]; ids: string[]; offsets: number[]; sizes: number[]; bytes: number[] }[] = [];
    async function* batches(): AsyncGenerator<ConversationBatch> {
      const empty = () => ({ intents: [] as string[], roles: [] as string[], contents: [] as string[], offsets: [0], size: 0, pos: [] as bigint[], ids: [] as string[], sizes: [] as number[], bytes: [] as number[] });
      let b = empty();
      const close = () => {
        pending.push({ pos: b.pos, ids: b.ids, offsets: b.offsets, sizes: b.sizes, bytes: b.bytes });
        const out = { intents: b.intents, roles: b.roles, contents: b.contents, offsets: Int32Array.from(b.offsets) };
        b = empty();
        return out;
      };
      for await (const rows of result.yieldRowsJs()) {
        for (const r of rows) {
          b.pos.push(BigInt(r[0] as number | bigint));
          b.ids.push(String(r[1]));
          const intent = String(r[2] ?? '');
          b.intents.push(intent);
          b.size += intent.length;
          const roles = r[3] as string[];
          const contents = r[4] as string[];
          for (let j = 0; j < contents.length; j++) {
            b.roles.push(roles[j]!);
            b.contents.push(contents[j]!);
            b.size += contents[j]!.length;
            const cb = Buffer.byteLength(contents[j]!, 'utf8');
            b.bytes.push(cb);
            b.sizes.push(Buffer.byteLength(roles[j]!, 'utf8') + cb);
          }
          b.offsets.push(b.contents.length);
          if (b.size >= BATCH_CHARS || b.ids.length >= BATCH_CONVERSATIONS) yield close();
        }
      }
      if (b.ids.length) yield close();
    }
    try {
      await countBatches(batches(), { tokenizerJson: o.tokenizer_json, endToken, format: o.format, maxSeqLen: o.max_seq_len, overflow: o.overflow }, workers, (c) => {
        const { pos, ids, offsets, sizes, bytes } = pending.shift()!;
        for (let i = 0; i < ids.length; i++) {
          const p = pos[i]!;
          convApp.appendBigInt(p);
          convApp.appendVarchar(ids[i]!);
          convApp.endRow();
          for (let at = offsets[i]!, k = 0; at < offsets[i + 1]!; at++, k++) {
            msgApp.appendBigInt(p);
            msgApp.appendInteger(k);
            msgApp.appendInteger(sizes[at]!);
            msgApp.appendInteger(bytes[at]!);
            msgApp.endRow();
          }
          for (let at = c.sampleOffsets[i]!, t = 1; at < c.sampleOffsets[i + 1]!; at++, t++) {
            sampleApp.appendBigInt(p);
            sampleApp.appendInteger(t);
            sampleApp.appendInteger(c.numTokens[at]!);
            sampleApp.appendInteger(c.numTargetTokens[at]!);
            sampleApp.appendInteger(c.historyDropped[at]!);
            sampleApp.appendBoolean(c.tooLong[at] === 1);
            sampleApp.endRow();
          }
        }
        chars += c.textChars;
        progress.tick(ids.length);
      });
    } finally {
      progress.stop();
      convApp.closeSync();
      sampleApp.closeSync();
      msgApp.closeSync();
    }
    const seconds = (performance.now() - started) / 1000;
    const joined = 'FROM tok_conv c JOIN tok_samples s USING (pos)';
    // The per-conversation lists are built a range of positions at a time: DuckDB keeps list
    // aggregates in memory, and one GROUP BY over every sample and message row ran out of its
    // 2.6 GiB share at 2.66M realistic conversations (3M bench). Each range is appended in
    // position order to one table, which the COPY then writes in that order.
    const { hi } = await db.one<{ hi: unknown }>('SELECT coalesce(max(pos), -1) AS hi FROM tok_conv');
    const last = toNumber(hi);
    await createTableInRanges(db, 'tok_out', last + 1, aggregationRange(await duckdbMemoryLimitBytes(db)), perConversationSql);
    await db.run(`COPY (SELECT * EXCLUDE (pos) FROM tok_out) TO ${sqlString(join(dir, DATA_FILE))} (${STAGE_PARQUET})`);
    await db.run('DROP TABLE tok_out');
    await db.run(
      `COPY (SELECT ${sampleIdSql('c.conversation_id', 's.turn_index')} AS sample_id, c.conversation_id, 'too_long' AS reason, s.num_tokens
             ${joined} WHERE s.too_long ORDER BY c.pos, s.turn_index)
       TO ${sqlString(join(dir, SAMPLE_DROPS_FILE))} (${STAGE_PARQUET})`,
    );
    await db.run(
      `COPY (SELECT any_value(c.conversation_id) AS conversation_id, 'all_samples_too_long' AS reason ${joined}
             GROUP BY c.pos HAVING bool_and(s.too_long) ORDER BY conversation_id)
       TO ${sqlString(join(dir, DROPS_FILE))} (${STAGE_PARQUET})`,
    );
    const t = await db.one<{ tokens: unknown; truncated: unknown; too_long: unknown }>(
      `SELECT coalesce(sum(num_tokens) FILTER (WHERE NOT too_long), 0) AS tokens,
              count(*) FILTER (WHERE history_messages_dropped > 0 AND NOT too_long) AS truncated,
              count(*) FILTER (WHERE too_long) AS too_long
       FROM tok_samples`,
    );
    await db.run('DROP TABLE tok_samples');
    await db.run('DROP TABLE tok_conv');
    await db.run('DROP TABLE tok_msg');
    const notes: TokenizeNotes = {
      tokenizer: name,
      tokenizer_sha256: sha256,
      format: format.name,
      max_seq_len: o.max_seq_len,
      end_token: endToken,
      overflow: o.overflow,
      tokens: toNumber(t.tokens),
      truncated_samples: toNumber(t.truncated),
      too_long_samples: toNumber(t.too_long),
      text_mchars_per_s: seconds > 0 ? Math.round((chars / 1e6 / seconds) * 100) / 100 : null,
      workers,
    };
    // sample_drops.parquet (sample_id, conversation_id, reason, num_tokens) is read by the shards stage.
    return { notes, publish: { sampleDrops: SAMPLE_DROPS_FILE } };
  },
});

/** One row per conversation at positions [lo, hi) that keeps a sample: its counts as lists by turn, and its message sizes. */
export function perConversationSql(lo: number, hi: number): string {
  const inRange = (col: string) => `${col} >= ${lo} AND ${col} < ${hi}`;
  return `SELECT g.*, coalesce(m.msg_sizes, []::INTEGER[]) AS msg_sizes, coalesce(m.content_bytes, []::INTEGER[]) AS content_bytes
          FROM (SELECT c.pos, any_value(c.conversation_id) AS conversation_id,
                 (count(*) FILTER (WHERE NOT s.too_long))::INTEGER AS ${NUM_SAMPLES_COLUMN},
                 list(s.num_tokens ORDER BY s.turn_index) AS num_tokens,
                 list(s.num_target_tokens ORDER BY s.turn_index) AS num_target_tokens,
                 list(s.history_messages_dropped ORDER BY s.turn_index) AS history_messages_dropped,
                 list(s.too_long ORDER BY s.turn_index) AS too_long
                FROM tok_conv c JOIN tok_samples s USING (pos)
                WHERE ${inRange('c.pos')} AND ${inRange('s.pos')}
                GROUP BY c.pos HAVING NOT bool_and(s.too_long)) g
          LEFT JOIN (SELECT pos, list(msg_size ORDER BY idx) AS msg_sizes, list(content_bytes ORDER BY idx) AS content_bytes
                     FROM tok_msg WHERE ${inRange('pos')} GROUP BY pos) m USING (pos)
          ORDER BY g.pos`;
}
