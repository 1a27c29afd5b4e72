import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlString, toNumber } from '../../core/db.js';
import { sha256Hex } from '../../core/hash.js';
import { startProgress } from '../../core/progress.js';
import { DATA_FILE, DROPS_FILE, SAMPLE_DROPS_FILE, defineStage } from '../../core/stage.js';
import type { ChatMessage } from '../flip/flip-conversation.js';
import { chatFormat, checkChatFormat } from './chat-format.js';
import { countConversationSamples } from './count-conversation-samples.js';
import { loadTokenizer } from './load-tokenizer.js';

/**
 * Exact token counts of every sample as the trainer will see it, and the max_seq_len policy.
 * Only each conversation's termination sample is streamed (its messages are the whole
 * conversation), so the text read and tokenized is linear in the conversations; the counts
 * of all K+1 samples come from per-message counts. SQL then joins the counts back, cuts the
 * truncated histories and drops what does not fit.
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
}

export const tokenizeStage = defineStage({
  name: 'tokenize',
  version: 3,
  map: {
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
  async run({ db, pipeline, dir, input, log }) {
    const o = pipeline.config.stages.tokenize;
    const endToken = pipeline.config.stages.flip.end_token;
    const { tokenizer, name, sha256 } = await loadTokenizer({ tokenizerJson: o.tokenizer_json, endToken });
    const format = chatFormat(o.format);
    checkChatFormat(format);
    const src = `read_parquet(${sqlString(input!)})`;
    await db.run(
      `CREATE OR REPLACE TABLE sample_tokens (conversation_id VARCHAR, turn_index INTEGER, num_tokens INTEGER,
         num_target_tokens INTEGER, history_messages_dropped INTEGER, too_long BOOLEAN)`,
    );
    // Counted before streaming: another query on the connection would end the stream.
    const conversations = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM ${src} WHERE kind = 'termination'`)).n);
    const appender = await db.appender('sample_tokens');
    const result = await db.conn.stream(`SELECT conversation_id, intent, messages[2:] AS history FROM ${src} WHERE kind = 'termination'`);
    const progress = startProgress(log, 'tokenize', conversations, 'conversations');
    const started = performance.now();
    let chars = 0;
    try {
      for await (const rows of result.yieldRowObjectJs()) {
        for (const r of rows) {
          const id = String(r['conversation_id']);
          const counted = countConversationSamples(tokenizer, String(r['intent']), r['history'] as unknown as ChatMessage[], {
            maxSeqLen: o.max_seq_len,
            overflow: o.overflow,
            endToken,
            format,
          });
          chars += counted.textChars;
          for (const s of counted.samples) {
            appender.appendVarchar(id);
            appender.appendInteger(s.turn_index);
            appender.appendInteger(s.num_tokens);
            appender.appendInteger(s.num_target_tokens);
            appender.appendInteger(s.history_messages_dropped);
            appender.appendBoolean(s.too_long);
            appender.endRow();
          }
        }
        progress.tick(rows.length);
      }
    } finally {
      progress.stop();
      appender.closeSync();
    }
    const seconds = (performance.now() - started) / 1000;
    const joined = `FROM read_parquet(${sqlString(input!)}, file_row_number = true) s
                    JOIN sample_tokens t ON t.conversation_id = s.conversation_id AND t.turn_index = s.turn_index`;
    await db.run(
      `COPY (SELECT s.* EXCLUDE (file_row_number, messages),
                    CASE WHEN t.history_messages_dropped > 0
                         THEN list_prepend(s.messages[1], s.messages[2 + t.history_messages_dropped:])
                         ELSE s.messages END AS messages,
                    t.num_tokens, t.num_target_tokens, t.history_messages_dropped
             ${joined} WHERE NOT t.too_long ORDER BY s.file_row_number)
       TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run(
      `COPY (SELECT s.sample_id, s.conversation_id, 'too_long' AS reason, t.num_tokens
             ${joined} WHERE t.too_long ORDER BY s.file_row_number)
       TO ${sqlString(join(dir, SAMPLE_DROPS_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await db.run(
      `COPY (SELECT conversation_id, 'all_samples_too_long' AS reason FROM sample_tokens
             GROUP BY conversation_id HAVING bool_and(too_long) ORDER BY conversation_id)
       TO ${sqlString(join(dir, DROPS_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const t = await db.one<{ tokens: unknown; truncated: unknown; too_long: unknown }>(
      `SELECT coalesce(sum(num_tokens) FILTER (WHERE NOT too_long), 0) AS tokens,
              count(*) FILTER (WHERE history_messages_dropped > 0 AND NOT too_long) AS truncated,
              count(*) FILTER (WHERE too_long) AS too_long
       FROM sample_tokens`,
    );
    await db.run('DROP TABLE sample_tokens');
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
    };
    // sample_drops.parquet (sample_id, conversation_id, reason, num_tokens) is read by the shards stage.
    return { notes, publish: { sampleDrops: SAMPLE_DROPS_FILE } };
  },
});
