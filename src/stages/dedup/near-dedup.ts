import { availableParallelism } from 'node:os';
import type { DedupOptions } from '../../config/pipeline-config.js';
import type { Db } from '../../core/db.js';
import type { Logger } from '../../core/logger.js';
import { ALL_USER_TURNS_SQL, FIRST_USER_TURN_SQL } from '../conversation-sql.js';
import { startProgress } from '../../core/progress.js';
import { chooseBands } from './lsh-params.js';
import { lshClusters } from './lsh-clusters.js';
import { sketchDocuments, type TextBatch } from './sketch-documents.js';
import { templatedDocuments } from './template-filter.js';


export interface NearDedupStats {
  documents: number;
  eligible: number;
  templated: number;
  frequent_ngrams: number;
  bands: number;
  rows: number;
  candidate_pairs: number;
  merged_pairs: number;
  clusters: number;
  near_duplicates: number;
  workers: number;
  seconds_sketch: number;
  seconds_templates: number;
  seconds_cluster: number;
}

/**
 * bands x rows from the config, or chosen from the threshold. With verification on, a
 * false candidate costs one signature comparison while a missed pair is a kept duplicate,
 * so the choice weighs misses 4:1.
 */
export function lshShape(near: DedupOptions['near']): { bands: number; rows: number } {
  if (near.bands !== null && near.rows !== null) return { bands: near.bands, rows: near.rows };
  return near.verify ? chooseBands(near.num_perm, near.threshold, 0.2, 0.8) : chooseBands(near.num_perm, near.threshold);
}

export function resolveWorkers(w: number | null): number {
  return w ?? Math.min(8, availableParallelism());
}

/** Columns of the relation findNearDuplicates fills: one row per input conversation. */
export const NEAR_RESULT_COLUMNS = 'conversation_id VARCHAR, templated BOOLEAN, keeper_id VARCHAR, cluster_size INTEGER, similarity FLOAT';

/**
 * Near-duplicate clusters and templated prompts over the rows of `table`, in keeper
 * priority order (earliest timestamp, then id), appended to the caller's table `out`
 * (NEAR_RESULT_COLUMNS; a regular table, because it is filled through Db's side
 * connection). The caller creates and drops both relations.
 */
export async function findNearDuplicates(
  db: Db,
  table: string,
  out: string,
  o: Pick<DedupOptions, 'near' | 'templates'>,
  seed: number,
  log: Logger,
): Promise<NearDedupStats> {
  const near = o.near;
  const n = Number((await db.one<{ n: bigint }>(`SELECT count(*) AS n FROM ${table}`)).n);
  const { bands, rows } = lshShape(near);
  const workers = resolveWorkers(near.workers);
  const ids: string[] = new Array(n);
  const text = near.text === 'first_user_turn' ? FIRST_USER_TURN_SQL : ALL_USER_TURNS_SQL;
  const needTemplateText = o.templates.enabled && near.text !== 'first_user_turn';
  const t0 = performance.now();
  // Collect before sketching: no other query may run on the connection while it streams.
  const result = await db.conn.stream(
    `SELECT conversation_id, ${text} AS t${needTemplateText ? `, ${FIRST_USER_TURN_SQL} AS tt` : ''}
     FROM ${table} ORDER BY timestamp NULLS LAST, conversation_id`,
  );
  const progress = startProgress(log, 'near-dup signatures', n, 'conversations');
  let pos = 0;
  // DuckDB hands out chunks of 2048 rows; batches of ~8k amortise the message passing.
  async function* batches(): AsyncGenerator<TextBatch> {
    let texts: string[] = [];
    let templateTexts: string[] = [];
    for await (const chunk of result.yieldRowsJs()) {
      for (const r of chunk) {
        ids[pos++] = r[0] as string;
        texts.push((r[1] as string | null) ?? '');
        if (needTemplateText) templateTexts.push((r[2] as string | null) ?? '');
      }
      if (texts.length >= 8192) {
        yield { texts, templateTexts: needTemplateText ? templateTexts : undefined };
        texts = [];
        templateTexts = [];
      }
    }
    if (texts.length) yield { texts, templateTexts: needTemplateText ? templateTexts : undefined };
  }
  const sk = await sketchDocuments(
    batches(),
    n,
    {
      ngram: near.ngram,
      numPerm: near.num_perm,
      seed,
      method: near.method,
      templateNgram: o.templates.enabled ? o.templates.ngram : 0,
      templateMaxPerDoc: 512,
      bands: near.enabled ? bands : 0,
      rows,
    },
    workers,
    (k) => progress.tick(k),
  );
  progress.stop();
  const t1 = performance.now();
  const templated = o.templates.enabled
    ? templatedDocuments(sk.templates, sk.templateOffsets, n, o.templates.max_others)
    : { templated: new Uint8Array(n), frequentNgrams: 0 };
  const tTemplates = performance.now();
  const eligible = new Uint8Array(n);
  let eligibleCount = 0;
  let templatedCount = 0;
  for (let i = 0; i < n; i++) {
    if (templated.templated[i]) templatedCount++;
    if (near.enabled && !templated.templated[i] && sk.words[i]! >= near.min_words) {
      eligible[i] = 1;
      eligibleCount++;
    }
  }
  const lsh = lshClusters(sk.signatures, n, {
    numPerm: near.num_perm,
    bands,
    rows,
    threshold: near.threshold,
    verify: near.verify,
    eligible,
    bandKeys: near.enabled ? sk.bandKeys : undefined,
  });
  const t2 = performance.now();
  const app = await db.appender(out);
  let clusters = 0;
  let dups = 0;
  for (let i = 0; i < n; i++) {
    const root = lsh.root[i]!;
    if (root !== i) dups++;
    else if (lsh.size[i]! > 1) clusters++;
    app.appendVarchar(ids[i]!);
    app.appendBoolean(templated.templated[i] === 1);
    app.appendVarchar(ids[root]!);
    app.appendInteger(lsh.size[i]!);
    app.appendFloat(lsh.similarity[i]!);
    app.endRow();
  }
  app.closeSync();
  return {
    documents: n,
    eligible: eligibleCount,
    templated: templatedCount,
    frequent_ngrams: templated.frequentNgrams,
    bands,
    rows,
    candidate_pairs: lsh.candidatePairs,
    merged_pairs: lsh.mergedPairs,
    clusters,
    near_duplicates: dups,
    workers,
    seconds_sketch: Math.round(t1 - t0) / 1000,
    seconds_templates: Math.round(tTemplates - t1) / 1000,
    seconds_cluster: Math.round(t2 - tTemplates) / 1000,
  };
}
