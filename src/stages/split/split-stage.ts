import { join } from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import type { SplitOptions } from '../../config/pipeline-config.js';
import { sqlString, toNumber, type Db } from '../../core/db.js';
import { DATA_FILE, DROPS_FILE, NUM_SAMPLES_COLUMN, STAGE_PARQUET, defineStage, type StageContext } from '../../core/stage.js';
import { intentsStage } from '../intents/intents-stage.js';
import { lshShape, sketchWorkers } from '../dedup/near-dedup.js';
import { sketchBatches } from '../dedup/sketch-documents.js';
import { startProgress } from '../../core/progress.js';
import { HeldOutIndex } from './cross-split-leaks.js';

/**
 * SQL assigning each user to a split. Within each stratum (country) users are ordered by a
 * seeded md5 of their key, and the i-th of n users lands in the split whose cumulative
 * share first exceeds (i + 0.5) / n: exact shares at scale, stable under the seed, and a
 * user never lands in two splits because the assignment is per user, not per row.
 */
export function userSplitSql(o: Pick<SplitOptions, 'fractions' | 'stratify_by'>, conversationsSql: string): { sql: string; params: Record<string, DuckDBValue> } {
  const entries = Object.entries(o.fractions);
  const params: Record<string, DuckDBValue> = {};
  let cum = 0;
  const whens = entries.map(([name, frac], i) => {
    cum += frac;
    params[`split_name_${i}`] = name;
    params[`split_cum_${i}`] = i === entries.length - 1 ? 2 : cum;
    return `WHEN pos < $split_cum_${i} THEN $split_name_${i}`;
  });
  const stratum = o.stratify_by === 'country' ? `min(coalesce(country, ''))` : `''`;
  const sql = `
    WITH users AS (
      SELECT coalesce(user_key, 'conversation|' || conversation_id) AS user_key, ${stratum} AS stratum
      FROM (${conversationsSql}) WHERE split_override IS NULL
      GROUP BY 1
    ), ranked AS (
      SELECT user_key, stratum,
        (row_number() OVER (PARTITION BY stratum ORDER BY md5($seed || ':' || user_key), user_key) - 0.5)
          / count(*) OVER (PARTITION BY stratum) AS pos
      FROM users
    )
    SELECT user_key, stratum, CASE ${whens.join(' ')} END AS split FROM ranked`;
  return { sql, params };
}

/** The split that held-out splits are checked against: "train", else the first share. */
export function trainSplitName(o: SplitOptions): string {
  return 'train' in o.fractions ? 'train' : Object.keys(o.fractions)[0]!;
}

/** Held-out conversations near-duplicate of training ones, as the manifest reports them. */
export interface LeakReport {
  checked: boolean;
  threshold: number;
  dropped: boolean;
  against: string;
  by_split: Record<string, number>;
}

export interface SplitNotes {
  splits: Record<string, { conversations: number; samples: number; users: number }>;
  leaks: LeakReport;
}

const LEAK_COLUMNS = 'conversation_id VARCHAR, split VARCHAR, train_conversation_id VARCHAR, similarity FLOAT';

/** The leaks file of a run that did not check: the same columns, no rows. */
async function writeNoLeaks(db: Db, out: string): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE no_leaks (${LEAK_COLUMNS})`);
  await db.run(`COPY no_leaks TO ${sqlString(out)} (${STAGE_PARQUET})`);
  await db.run('DROP TABLE no_leaks');
}

/** Conversations per bucket of leak-check texts: one bucket's texts are sorted at a time (tests lower it). */
export const LEAK_TEXTS = { bucketRows: 131_072 };

/**
 * The leak check's texts, written once to scratch Parquet files partitioned into buckets of
 * LEAK_TEXTS.bucketRows conversations by conversation_id rank (dir/bucket=k/*.parquet): each
 * conversation's id, split and first kept user turn. The texts are read from the intents
 * file by a positional scan against a narrow table laid out in the file's row order (one row
 * per intents row, NULL where tokenize kept nothing of the conversation), so no join or sort
 * ever holds them; every row's id is checked against the file's.
 */
export async function writeLeakTexts(ctx: StageContext, convSplit: string, intentsData: string): Promise<{ dir: string; buckets: number }> {
  const { db, scratchDir } = ctx;
  const dir = join(scratchDir, 'leak-texts');
  const intents = `read_parquet(${sqlString(intentsData)})`;
  const { n } = await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM ${intents}`);
  const rows = toNumber(n);
  await db.run(
    `CREATE OR REPLACE TEMP TABLE leak_by_ipos AS
     WITH b AS (
       SELECT ipos, conversation_id, split, first_turn, turn_samples,
              ((row_number() OVER (ORDER BY conversation_id) - 1) // $bucket_rows)::INTEGER AS bucket
       FROM ${convSplit}
     )
     SELECT g.ipos, b.conversation_id, b.split, b.first_turn, b.turn_samples, b.bucket
     FROM range($rows) g(ipos) LEFT JOIN b USING (ipos) ORDER BY g.ipos`,
    { rows, bucket_rows: LEAK_TEXTS.bucketRows },
  );
  const { buckets } = await db.one<{ buckets: unknown }>(`SELECT coalesce(max(bucket) + 1, 0) AS buckets FROM leak_by_ipos`);
  // DuckDB buffers up to this many rows per thread before it writes them to the partitions' files.
  const { v } = await db.one<{ v: string }>(`SELECT current_setting('partitioned_write_flush_threshold')::VARCHAR AS v`);
  await db.run(`SET partitioned_write_flush_threshold = 16384`);
  try {
    await db.run(
      `COPY (
         SELECT k.bucket, k.conversation_id, k.split,
                CASE WHEN i.conversation_id IS DISTINCT FROM k.conversation_id
                     THEN error('split: row ' || k.ipos || ' of the intents file is conversation ' || coalesce(i.conversation_id, 'NULL') || ', not ' || k.conversation_id || ' (the file changed during the stage?)')
                     WHEN len(i.messages) // 2 + 1 <> k.turn_samples
                     THEN error('split: conversation ' || k.conversation_id || ' has ' || len(i.messages) || ' messages in the intents file but ' || k.turn_samples || ' samples in the tokenize file (rerun both stages: delete their directories under run_dir)')
                     ELSE coalesce(i.messages[2 * k.first_turn - 1].content, '') END AS first_user
         FROM (SELECT conversation_id, messages FROM ${intents}) i POSITIONAL JOIN leak_by_ipos k
         WHERE k.bucket IS NOT NULL
       ) TO ${sqlString(dir)} (${STAGE_PARQUET}, PARTITION_BY (bucket), WRITE_PARTITION_COLUMNS false)`,
    );
  } finally {
    await db.run(`SET partitioned_write_flush_threshold = ${Number(v)}`);
    await db.run('DROP TABLE IF EXISTS leak_by_ipos');
  }
  return { dir, buckets: toNumber(buckets) };
}

/**
 * Held-out conversations whose first user turn is a near-duplicate of a training one, written
 * to the Parquet file `out` (conversation_id, split, train_conversation_id, similarity).
 * convSplit names a table (ipos, conversation_id, split, first_turn, turn_samples) the caller owns. The
 * held-out turns are sketched and indexed first; the training ones then stream past the
 * index in conversation_id order and only their matches' ids are kept (see HeldOutIndex).
 */
async function writeLeaks(ctx: StageContext, o: SplitOptions, convSplit: string, intentsData: string, out: string): Promise<void> {
  const { db, pipeline, log } = ctx;
  const texts = await writeLeakTexts(ctx, convSplit, intentsData);
  const near = pipeline.config.stages.dedup.near;
  const train = trainSplitName(o);
  const counts = await db.one<{ held: unknown; train: unknown }>(
    `SELECT count(*) FILTER (WHERE split IS DISTINCT FROM $train) AS held, count(*) FILTER (WHERE split = $train) AS train FROM ${convSplit}`,
    { train },
  );
  const heldN = toNumber(counts.held);
  const trainN = toNumber(counts.train);
  const { bands, rows } = lshShape({ ...near, threshold: o.leak_threshold, bands: null, rows: null, verify: true });
  const sketch = { ngram: near.ngram, numPerm: near.num_perm, seed: pipeline.config.seed, method: near.method, templateNgram: 0, templateMaxPerDoc: 0, bands, rows };
  const workers = sketchWorkers(pipeline);
  const progress = startProgress(log, 'split leak check', heldN + trainN, 'conversations');
  type Batch = { texts: string[]; ids: string[]; splits: string[] };
  // The texts come a bucket at a time from the scratch files writeLeakTexts wrote; buckets
  // are conversation_id ranges in ascending order, so the documents come in conversation_id
  // order overall, and no sort ever holds more than one bucket's texts.
  async function* batches(where: string): AsyncGenerator<Batch> {
    for (let k = 0; k < texts.buckets; k++) {
      const files = sqlString(join(texts.dir, `bucket=${k}`, '*.parquet'));
      const result = await db.conn.stream(
        `SELECT conversation_id, split, first_user FROM read_parquet(${files}, hive_partitioning = false) WHERE ${where} ORDER BY conversation_id`,
        { train },
      );
      for await (const chunk of result.yieldRowsJs()) {
        const b: Batch = { texts: [], ids: [], splits: [] };
        for (const r of chunk) {
          b.ids.push(r[0] as string);
          b.splits.push(r[1] as string);
          b.texts.push((r[2] as string | null) ?? '');
        }
        yield b;
      }
    }
  }
  const heldSig = new Uint32Array(heldN * near.num_perm);
  const heldKeys = new Uint32Array(heldN * bands);
  const eligible = new Uint8Array(heldN);
  const heldIds: string[] = new Array(heldN);
  const heldSplits: string[] = new Array(heldN);
  const seenHeld = await sketchBatches(batches('split IS DISTINCT FROM $train'), sketch, workers, (start, sk, b) => {
    if (start + sk.count > heldN) throw new Error(`more held-out conversations than counted (${start + sk.count} > ${heldN})`);
    heldSig.set(sk.signatures, start * near.num_perm);
    heldKeys.set(sk.bandKeys, start * bands);
    for (let i = 0; i < sk.count; i++) {
      eligible[start + i] = sk.words[i]! >= near.min_words ? 1 : 0;
      heldIds[start + i] = b.ids[i]!;
      heldSplits[start + i] = b.splits[i]!;
    }
    progress.tick(sk.count);
  });
  if (seenHeld !== heldN) throw new Error(`held-out conversation count changed during the leak check (${seenHeld} != ${heldN})`);
  const index = new HeldOutIndex<string>(heldSig, heldKeys, heldN, eligible, { numPerm: near.num_perm, bands, rows, threshold: o.leak_threshold });
  const seenTrain = await sketchBatches(batches('split = $train'), sketch, workers, (start, sk, b) => {
    for (let i = 0; i < sk.count; i++) {
      if (sk.words[i]! < near.min_words) continue;
      index.offer(sk.signatures, i * near.num_perm, sk.bandKeys, i * bands, start + i, b.ids[i]!);
    }
    progress.tick(sk.count);
  });
  progress.stop();
  if (seenTrain !== trainN) throw new Error(`training conversation count changed during the leak check (${seenTrain} != ${trainN})`);
  // Not TEMP: the appender writes through a second connection, which cannot see temp tables.
  await db.run(`CREATE OR REPLACE TABLE found_leaks (${LEAK_COLUMNS})`);
  const app = await db.appender('found_leaks');
  let found = 0;
  for (let i = 0; i < heldN; i++) {
    if (index.match[i]! < 0) continue;
    found++;
    app.appendVarchar(heldIds[i]!);
    app.appendVarchar(heldSplits[i]!);
    app.appendVarchar(index.matchTag[i]!);
    app.appendFloat(index.similarity[i]!);
    app.endRow();
  }
  app.closeSync();
  await db.run(`COPY (SELECT * FROM found_leaks ORDER BY conversation_id) TO ${sqlString(out)} (${STAGE_PARQUET})`);
  await db.run('DROP TABLE found_leaks');
  log.info('split.leaks', `  leak check: ${found} held-out conversation(s) near-duplicate of training ones (estimated Jaccard >= ${o.leak_threshold})`, { leaks: found });
}

export const splitStage = defineStage({
  name: 'split',
  // 4: conversation rows (conversation_id, split, num_samples) instead of sample rows.
  // 5: files written with STAGE_PARQUET (zstd level 1).
  // 6: no text in the stage's tables; the leak check reads its texts a bucket at a time
  // (the same files as 5).
  version: 6,
  needs: { intents: intentsStage },
  options: (p) => ({
    ...p.config.stages.split,
    seed: p.config.seed,
    // The leak check reuses dedup's shingling and signature settings.
    leak_sketch: p.config.stages.split.check_leaks ? (({ workers: _w, ...n }) => n)(p.config.stages.dedup.near) : null,
  }),
  async run(ctx) {
    const { db, pipeline, dir, input, needs } = ctx;
    const o = pipeline.config.stages.split;
    // The tokenize stage's conversations with the fields the split needs from the conversation,
    // and no text: ipos, the conversation's row in the intents file, and first_turn, the first
    // user turn tokenize kept (1-based), point the leak check at the one text it reads.
    // too_long has one entry per sample, the user turns' then the end-of-conversation one's
    // (writeLeakTexts checks that against the messages it reads), so the join reads no text.
    const conversations = `
      SELECT t.file_row_number AS pos, i.file_row_number AS ipos, t.conversation_id, i.user_key, i.country, i.split_override, t.${NUM_SAMPLES_COLUMN},
             list_position(t.too_long[1 : len(t.too_long) - 1], false) AS first_turn, len(t.too_long) AS turn_samples
      FROM read_parquet(${sqlString(input!)}, file_row_number = true) t
      JOIN (SELECT file_row_number, conversation_id, user_key, country, split_override
            FROM read_parquet(${sqlString(needs.intents.data)}, file_row_number = true)) i USING (conversation_id)`;
    await db.run(`CREATE OR REPLACE TEMP TABLE split_conv AS ${conversations}`);
    const { sql, params } = userSplitSql(o, 'SELECT * FROM split_conv');
    await db.run(`CREATE OR REPLACE TEMP TABLE user_split AS ${sql}`, { ...params, seed: String(pipeline.config.seed) });
    await db.run(
      `COPY (SELECT * FROM user_split ORDER BY stratum, user_key) TO ${sqlString(join(dir, 'users.parquet'))} (${STAGE_PARQUET})`,
    );
    // One equality key, NULL for overridden rows: an extra condition in ON would make
    // DuckDB fall back to a nested-loop join (minutes at 100k conversations).
    await db.run(
      `CREATE OR REPLACE TEMP TABLE conv_split AS
       SELECT s.pos, s.ipos, s.conversation_id, coalesce(s.split_override, u.split) AS split, s.first_turn, s.turn_samples, s.${NUM_SAMPLES_COLUMN},
              coalesce(s.user_key, 'conversation|' || s.conversation_id) AS user_key
       FROM split_conv s
       LEFT JOIN user_split u
         ON u.user_key = CASE WHEN s.split_override IS NULL THEN coalesce(s.user_key, 'conversation|' || s.conversation_id) END`,
    );
    await db.run('DROP TABLE split_conv');
    const leaksFile = join(dir, 'leaks.parquet');
    if (o.check_leaks) await writeLeaks(ctx, o, 'conv_split', needs.intents.data, leaksFile);
    else await writeNoLeaks(db, leaksFile);
    const leaks = `read_parquet(${sqlString(leaksFile)})`;
    const kept = `FROM conv_split WHERE true ${o.drop_leaks ? `AND conversation_id NOT IN (SELECT conversation_id FROM ${leaks})` : ''}`;
    await db.run(
      `COPY (SELECT conversation_id, split, ${NUM_SAMPLES_COLUMN} ${kept} ORDER BY pos)
       TO ${sqlString(join(dir, DATA_FILE))} (${STAGE_PARQUET})`,
    );
    if (o.drop_leaks) {
      await db.run(
        `COPY (SELECT conversation_id, 'split_leak' AS reason, train_conversation_id AS duplicate_of, similarity FROM ${leaks} ORDER BY conversation_id)
         TO ${sqlString(join(dir, DROPS_FILE))} (${STAGE_PARQUET})`,
      );
    }
    const counts = await db.all<{ split: string; conversations: unknown; samples: unknown; users: unknown }>(
      `SELECT split, count(*) AS conversations, sum(${NUM_SAMPLES_COLUMN}) AS samples, count(DISTINCT user_key) AS users
       ${kept} GROUP BY split ORDER BY split`,
    );
    const leakCounts = await db.all<{ split: string; n: unknown }>(`SELECT split, count(*) AS n FROM ${leaks} GROUP BY split ORDER BY split`);
    await db.run('DROP TABLE user_split');
    await db.run('DROP TABLE conv_split');
    const notes: SplitNotes = {
      splits: Object.fromEntries(
        counts.map((c) => [c.split, { conversations: toNumber(c.conversations), samples: toNumber(c.samples), users: toNumber(c.users) }]),
      ),
      leaks: {
        checked: o.check_leaks,
        threshold: o.leak_threshold,
        dropped: o.drop_leaks,
        against: trainSplitName(o),
        by_split: Object.fromEntries(leakCounts.map((l) => [l.split, toNumber(l.n)])),
      },
    };
    return { notes };
  },
});
