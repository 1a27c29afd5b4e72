import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { redactSecrets } from '../../core/redact-secrets.js';
import { sqlString, toNumber, type Db } from '../../core/db.js';
import { sha256File } from '../../core/hash.js';
import { startProgress } from '../../core/progress.js';
import { defineStage, type ResultOf } from '../../core/stage.js';
import { intentsStage } from '../intents/intents-stage.js';
import { normalizeStage } from '../normalize/normalize-stage.js';
import { splitStage } from '../split/split-stage.js';
import { tokenizeStage } from '../tokenize/tokenize-stage.js';
import { readSchema, VERSION } from '../../core/version.js';
import { writeCardCharts } from '../../report/write-card-charts.js';
import { huggingfaceMetadata } from './hf-features.js';
import { planShardLayout } from './plan-shard-layout.js';
import { arrowBytesSql, rowBytesSql } from './row-bytes-sql.js';
import { sampleIdSql } from '../flip/flip-stage.js';
import { expandSamples } from './expand-samples.js';
import { writeShardFile } from './write-shard-file.js';
import { buildManifest, type ShardFile, type SplitStats, type TokenStats, type TokenSummary } from './manifest.js';
import { renderCard, splitOrder, type SampleSchema } from './render-card.js';

export const SAMPLE_COLUMNS = [
  'sample_id', 'conversation_id', 'source', 'split', 'user_key', 'country', 'language',
  'turn_index', 'num_user_turns', 'kind', 'intent', 'messages', 'target',
  'num_tokens', 'num_target_tokens', 'history_messages_dropped',
] as const;

/**
 * The context and the target as one message list, each message flagged for training: a second
 * copy of the context, off by default (axolotl builds the same list at load time, see
 * src/trainer/userlm_axolotl/chat.py).
 */
export const CHAT_COLUMN_SQL = `list_append(
    list_transform(messages, m -> {'role': m.role, 'content': m.content, 'train': false}),
    {'role': 'user', 'content': target, 'train': true}) AS chat`;

export function sampleColumns(chatColumn: boolean): string[] {
  return chatColumn ? [...SAMPLE_COLUMNS, 'chat'] : [...SAMPLE_COLUMNS];
}

/**
 * Per-split token statistics of the planned samples (table `plan`), with the tokenize stage's
 * sample drops counted by split (`dropped`; NULL split: a conversation that gives no sample).
 */
async function tokenSummary(
  db: Db,
  plan: string,
  dropped: { split: string | null; n: unknown }[],
  tokenize: ResultOf<typeof tokenizeStage>,
): Promise<TokenSummary> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT split, count(*) AS samples, sum(num_tokens) AS tokens, sum(num_target_tokens) AS target_tokens,
            avg(num_tokens) AS mean, quantile_disc(num_tokens, 0.5) AS p50, quantile_disc(num_tokens, 0.95) AS p95,
            max(num_tokens) AS max, count(*) FILTER (WHERE history_messages_dropped > 0) AS truncated
     FROM ${plan} GROUP BY split`,
  );
  const splits: Record<string, TokenStats> = {};
  for (const split of splitOrder(rows.map((r) => String(r['split'])))) {
    const r = rows.find((x) => x['split'] === split)!;
    splits[split] = {
      samples: toNumber(r['samples']),
      tokens: toNumber(r['tokens']),
      target_tokens: toNumber(r['target_tokens']),
      mean: Math.round(toNumber(r['mean']) * 10) / 10,
      p50: toNumber(r['p50']),
      p95: toNumber(r['p95']),
      max: toNumber(r['max']),
      truncated: toNumber(r['truncated']),
      dropped: toNumber(dropped.find((d) => d.split === split)?.n),
    };
  }
  const n = tokenize.notes;
  return {
    tokenizer: n.tokenizer,
    tokenizer_sha256: n.tokenizer_sha256,
    format: n.format,
    max_seq_len: n.max_seq_len,
    end_token: n.end_token,
    overflow: n.overflow,
    splits,
    dropped_without_split: toNumber(dropped.find((d) => d.split === null)?.n),
  };
}

export function shardName(split: string, i: number, n: number): string {
  return `data/${split}-${String(i).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.parquet`;
}

/**
 * The published form: per split, Parquet shards in a seeded shuffled order (so that a
 * streaming reader sees a mix of conversations), plus manifest.json and the dataset card.
 */
export const shardsStage = defineStage({
  name: 'shards',
  // 5: samples expanded here from conversation rows (same output bytes as version 4).
  // 6: message byte sizes from the tokenize stage, not read from the text (same bytes).
  version: 6,
  needs: { normalize: normalizeStage, intents: intentsStage, tokenize: tokenizeStage, split: splitStage },
  options: (p) => ({ ...p.config.stages.shards, seed: p.config.seed, name: p.config.name, config_hash: p.configHash, generator: VERSION }),
  async run({ db, pipeline, dir, input, needs, earlier, scratchDir, log }) {
    const o = pipeline.config.stages.shards;
    const schema = readSchema<SampleSchema>('sample.schema.json');
    await mkdir(join(dir, 'data'), { recursive: true });
    const columns = sampleColumns(o.chat_column);
    const endToken = pipeline.config.stages.flip.end_token;
    // The conversations that reach the shards, without their text: where each sits in the
    // intents output (ipos), its split, per-sample token counts and the byte sizes of its
    // messages (from the tokenize stage, which read the text), which feed the byte estimates.
    await db.run(
      `CREATE OR REPLACE TEMP TABLE shard_conv AS
       SELECT i.ipos, i.conversation_id, i.source, s.split, i.user_key, i.country, i.language, i.intent, t.msg_sizes, t.content_bytes,
              t.num_tokens, t.num_target_tokens, t.history_messages_dropped, t.too_long,
              NOT list_bool_and(t.too_long[1 : len(t.msg_sizes) // 2 + 1]) AS gives_samples
       FROM read_parquet(${sqlString(input!)}) s
       JOIN read_parquet(${sqlString(needs.tokenize.data)}) t USING (conversation_id)
       JOIN (SELECT file_row_number AS ipos, conversation_id, source, user_key, country, language, intent
             FROM read_parquet(${sqlString(needs.intents.data)}, file_row_number = true)) i USING (conversation_id)`,
    );
    // Per split, the conversations that give at least one sample and their users, and where the
    // tokenize stage's dropped samples belong: from the conversation rows, before they go.
    const stats = await db.all<{ split: string; conversations: unknown; users: unknown }>(
      `SELECT split, count(DISTINCT conversation_id) AS conversations,
              count(DISTINCT coalesce(user_key, 'conversation|' || conversation_id)) AS users
       FROM shard_conv WHERE gives_samples GROUP BY split`,
    );
    const dropped = await db.all<{ split: string | null; n: unknown }>(
      `SELECT s.split, count(*) AS n
       FROM read_parquet(${sqlString(needs.tokenize.files.sampleDrops)}) d
       LEFT JOIN (SELECT conversation_id, split FROM shard_conv WHERE gives_samples) s USING (conversation_id)
       GROUP BY s.split`,
    );
    // One narrow row per sample (no text, no strings but its split): where its conversation sits,
    // its turn, token counts and byte estimates, stored in shard order (split, then a seeded
    // hash of the sample id). Its place in that order (rn) is its row id less its split's
    // first: one sort, where a row_number() window and a sort after it held twice the memory
    // (the sample plan of 3M conversations took DuckDB past its share).
    await db.run(
      `CREATE OR REPLACE TEMP TABLE sample_rows AS
       SELECT ipos, t, split, num_tokens, num_target_tokens, history_messages_dropped,
              ${rowBytesSql(o.chat_column, 'sizes', 'target_bytes')} AS bytes, ${arrowBytesSql(o.chat_column, 'sizes', 'target_bytes')} AS arrow_bytes
       FROM (
         SELECT c.ipos, r.t, c.split, ${sampleIdSql('c.conversation_id', 'r.t')} AS sample_id, c.conversation_id, c.source, c.user_key,
                c.country, c.language, c.intent,
                CASE WHEN r.t = 1 THEN 'initiation' WHEN r.t <= len(c.msg_sizes) // 2 THEN 'interaction' ELSE 'termination' END AS kind,
                CASE WHEN r.t <= len(c.msg_sizes) // 2 THEN c.content_bytes[2 * r.t - 1] ELSE strlen($end_token) END AS target_bytes,
                c.num_tokens[r.t] AS num_tokens, c.num_target_tokens[r.t] AS num_target_tokens,
                c.history_messages_dropped[r.t] AS history_messages_dropped,
                list_prepend(strlen('system') + strlen(c.intent), c.msg_sizes[1 + c.history_messages_dropped[r.t] : 2 * (r.t - 1)]) AS sizes
         FROM shard_conv c, range(1, len(c.msg_sizes) // 2 + 2) r(t)
         WHERE NOT c.too_long[r.t])
       ORDER BY split, md5($seed || ':' || sample_id), sample_id`,
      { seed: String(pipeline.config.seed), end_token: endToken },
    );
    await db.run('DROP TABLE shard_conv');
    const sampleStats = await db.all<{ split: string; samples: unknown; arrow_bytes: unknown; first: unknown }>(
      `SELECT split, count(*) AS samples, sum(arrow_bytes) AS arrow_bytes, min(rowid) AS first FROM sample_rows GROUP BY split ORDER BY first`,
    );
    // rn assumes the row ids are the insertion order, each split one run of them; planShardLayout
    // reads the view row by row and stops on a gap, a repeat or a split in two runs.
    const firsts = sampleStats.map((st) => toNumber(st.first)).reverse();
    const rnSql = firsts.length ? `rowid - CASE ${firsts.map((f) => `WHEN rowid >= ${f} THEN ${f}`).join(' ')} END` : 'rowid';
    await db.run(`CREATE OR REPLACE TEMP VIEW sample_plan AS SELECT *, ${rnSql} AS rn FROM sample_rows`);
    const layout = await planShardLayout(db, 'sample_plan', {
      maxRowsPerShard: o.max_rows_per_shard,
      shardBytes: o.shard_bytes,
      rowGroupRows: o.row_group_rows,
      rowGroupBytes: o.row_group_bytes,
    });
    const written = { ...schema, properties: Object.fromEntries(Object.entries(schema.properties).filter(([k]) => columns.includes(k))) };
    const hfMetadata = huggingfaceMetadata({ ...written, properties: Object.fromEntries(columns.map((c) => [c, schema.properties[c]!])) });
    const order = splitOrder(sampleStats.map((s) => s.split));
    const samples = sampleStats.reduce((a, s) => a + toNumber(s.samples), 0);
    const expanded = await expandSamples(db, {
      plan: 'sample_plan',
      intents: needs.intents.data,
      dir: join(scratchDir, 'expanded'),
      files: order.flatMap((split) => layout.get(split)!.map((f) => ({ split, lo: f.groups[0]!.lo }))),
      totalBytes: [...layout.values()].flat().reduce((a, f) => a + f.bytes, 0),
      samples,
      endToken,
    });
    const files: ShardFile[] = [];
    const splits: Record<string, SplitStats> = {};
    const progress = startProgress(log, 'shards', samples, 'samples');
    let part = 0;
    for (const split of order) {
      const st = { ...stats.find((s) => s.split === split)!, ...sampleStats.find((s) => s.split === split)! };
      const planned = layout.get(split)!;
      let bytes = 0;
      for (const [i, file] of planned.entries()) {
        const rel = shardName(split, i, planned.length);
        // The file's samples, in shard order: the part of the expansion that holds them.
        await db.run(
          `CREATE OR REPLACE TEMP TABLE shard_file_rows AS
           SELECT *${o.chat_column ? `, ${CHAT_COLUMN_SQL}` : ''} FROM read_parquet(${sqlString(expanded.part(part))}) ORDER BY rn`,
        );
        await writeShardFile(db, join(dir, rel), file, {
          table: 'shard_file_rows',
          split,
          columns,
          compressionLevel: o.compression_level,
          rowGroupBytes: o.row_group_bytes,
          hfMetadata,
        });
        await db.run('DROP TABLE shard_file_rows');
        await expanded.remove(part);
        part++;
        const h = await sha256File(join(dir, rel));
        files.push({ path: rel, split, rows: file.rows, bytes: h.bytes, sha256: h.sha256 });
        bytes += h.bytes;
        progress.tick(file.rows);
      }
      splits[split] = {
        conversations: toNumber(st.conversations),
        samples: toNumber(st.samples),
        users: toNumber(st.users),
        bytes,
        num_bytes: toNumber(st.arrow_bytes),
        files: planned.length,
      };
    }
    progress.stop();
    const tokens = await tokenSummary(db, 'sample_plan', dropped, needs.tokenize);
    await db.run('DROP VIEW sample_plan');
    await db.run('DROP TABLE sample_rows');
    const manifest = buildManifest({
      pipeline,
      version: VERSION,
      schemaVersion: schema.version,
      stages: earlier,
      sources: needs.normalize.notes,
      intents: { stage: needs.intents.stage, notes: needs.intents.notes },
      leaks: needs.split.notes.leaks,
      splits,
      tokens,
      files,
    });
    await writeFile(join(dir, 'manifest.json'), redactSecrets(JSON.stringify(manifest, null, 2) + '\n'));
    const charts = await writeCardCharts(db, dir, manifest);
    await writeFile(
      join(dir, 'README.md'),
      redactSecrets(renderCard(manifest, written, { languages: pipeline.config.stages.filter.languages, endToken: pipeline.config.stages.flip.end_token, charts })),
    );
    return { outputs: files.map((f) => f.path), notes: {} };
  },
});
