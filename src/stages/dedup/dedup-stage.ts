import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DedupKeep, DedupOptions } from '../../config/pipeline-config.js';
import { sqlString, toNumber, type Db } from '../../core/db.js';
import { startProgress } from '../../core/progress.js';
import { DATA_FILE, DROPS_FILE, defineStage } from '../../core/stage.js';
import { ALL_USER_TURNS_SQL, FIRST_USER_TURN_SQL, USER_MESSAGES_SQL } from '../conversation-sql.js';
import { largestClusters, renderDedupReport, type ReportText } from './dedup-report.js';
import { findNearDuplicates, type NearDedupResult, type NearDedupStats } from './near-dedup.js';
import type { TextBatch } from './sketch-documents.js';

export const DEDUP_REPORT_FILE = 'dedup_report.md';
export const CLUSTERS_FILE = 'clusters.parquet';
/** Near misses and weakest merges, for `inspect --dedup --near-misses N`. */
export const NEAR_PAIRS_FILE = 'near_pairs.parquet';
/** Pairs of each kind kept in NEAR_PAIRS_FILE. */
export const NEAR_PAIRS_KEPT = 200;

/** The text compared for exact duplicates: lowercased, whitespace collapsed and trimmed, turns joined by U+001F. */
export function exactKeySql(text: DedupOptions['exact']['text']): string {
  // DuckDB's trim() strips only spaces: collapse every kind of whitespace first, then trim.
  const norm = (x: string) => `trim(regexp_replace(lower(${x}), '[\\s\\p{Z}]+', ' ', 'g'))`;
  const turns =
    text === 'first_user_turn'
      ? `${norm(`${USER_MESSAGES_SQL}[1].content`)}`
      : `array_to_string(list_transform(${USER_MESSAGES_SQL}, m -> ${norm('m.content')}), chr(31))`;
  return `md5(${turns})`;
}

/**
 * Keeper priority as SQL ORDER BY terms over a Conversation: the first row of a cluster in
 * this order survives. Ties always fall back to the earliest (timestamp, then id), so the
 * choice is a total order.
 */
export function keeperOrderSql(keep: DedupKeep): string {
  const earliest = 'timestamp NULLS LAST, conversation_id';
  if (keep === 'longest') return `list_sum(list_transform(messages, m -> length(coalesce(m.content, '')))) DESC NULLS LAST, ${earliest}`;
  if (keep === 'most_turns') return `len(messages) DESC, ${earliest}`;
  return earliest;
}

export interface DedupNotes {
  /** Near-duplicate and template statistics, when either step ran. */
  near?: NearDedupStats;
}

/**
 * Exact duplicates of the user side first (SQL: among equal keys the first in keeper
 * priority stays), then templated prompts and near-duplicates over the survivors (MinHash
 * LSH, see near-dedup.ts). The input is read once for the keys and texts; the only wide
 * write is data.parquet. clusters.parquet records every survivor of the exact step with
 * its cluster and how its keeper was chosen; dedup_report.md shows the largest clusters,
 * the template families and the near misses; near_pairs.parquet holds the pairs on either
 * side of the threshold.
 */
export const dedupStage = defineStage({
  name: 'dedup',
  version: 5,
  options: (p) => {
    const d = p.config.stages.dedup;
    // Worker count does not change the output, so it does not invalidate the stage.
    const { workers: _w, ...near } = d.near;
    return { exact: d.exact, near, templates: d.templates, keep: d.keep, seed: p.config.seed };
  },
  async run({ db, pipeline, dir, input, log }) {
    const o = pipeline.config.stages.dedup;
    const src = `read_parquet(${sqlString(input!)}, file_row_number = true)`;
    const key = o.exact.enabled ? exactKeySql(o.exact.text) : 'conversation_id';
    const prio = keeperOrderSql(o.keep);
    const runNear = o.near.enabled || o.templates.enabled;
    const text = o.near.text === 'first_user_turn' ? FIRST_USER_TURN_SQL : ALL_USER_TURNS_SQL;
    const needTemplateText = o.templates.enabled && o.near.text !== 'first_user_turn';
    // Narrow: ids, keys, priority and the compared text; no messages column is copied.
    // _pos is the keeper-priority position among survivors of the exact step.
    await db.run(
      `CREATE OR REPLACE TABLE dd_docs AS
       SELECT _ord, conversation_id, _t, _tt,
              first_value(conversation_id) OVER w AS _exact_keeper,
              row_number() OVER w AS _rank, _prio
       FROM (SELECT CAST(file_row_number AS INTEGER) AS _ord, conversation_id, ${key} AS _key,
                    ${runNear ? text : "''"} AS _t, ${needTemplateText ? FIRST_USER_TURN_SQL : 'NULL::VARCHAR'} AS _tt,
                    row_number() OVER (ORDER BY ${prio}) AS _prio
             FROM ${src})
       WINDOW w AS (PARTITION BY _key ORDER BY _prio ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)`,
    );
    try {
      const n = toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM dd_docs WHERE _rank = 1')).n);
      const ords = new Int32Array(n);
      const ids: string[] = new Array(n);
      let near: NearDedupResult | null = null;
      if (runNear) {
        // Collect before sketching: no other query may run on the connection while it streams.
        const result = await db.conn.stream(`SELECT _ord, conversation_id, _t, _tt FROM dd_docs WHERE _rank = 1 ORDER BY _prio`);
        let pos = 0;
        async function* batches(): AsyncGenerator<TextBatch> {
          let texts: string[] = [];
          let templateTexts: string[] = [];
          for await (const chunk of result.yieldRowsJs()) {
            for (const r of chunk) {
              ords[pos] = r[0] as number;
              ids[pos++] = r[1] as string;
              texts.push((r[2] as string | null) ?? '');
              if (needTemplateText) templateTexts.push((r[3] as string | null) ?? '');
            }
            // DuckDB hands out chunks of 2048 rows; batches of ~8k amortise the message passing.
            if (texts.length >= 8192) {
              yield { texts, templateTexts: needTemplateText ? templateTexts : undefined };
              texts = [];
              templateTexts = [];
            }
          }
          if (texts.length) yield { texts, templateTexts: needTemplateText ? templateTexts : undefined };
        }
        const progress = startProgress(log, 'near-dup signatures', n, 'conversations');
        near = await findNearDuplicates(o, {
          batches: batches(),
          count: n,
          seed: pipeline.config.seed,
          pairsToReport: NEAR_PAIRS_KEPT,
          onProgress: (k) => progress.tick(k),
        });
        progress.stop();
      } else {
        const rows = await db.all<{ o: number; id: string }>('SELECT _ord AS o, conversation_id AS id FROM dd_docs WHERE _rank = 1 ORDER BY _prio');
        rows.forEach((r, i) => ((ords[i] = r.o), (ids[i] = r.id)));
      }
      await writeDecisions(db, o, ords, ids, near);
      await db.run(
        `CREATE OR REPLACE TABLE dd_dropped AS
         SELECT _ord FROM dd_docs WHERE _rank > 1 UNION ALL SELECT _ord FROM dd_near WHERE dropped`,
      );
      await db.run(
        `COPY (SELECT * EXCLUDE (file_row_number) FROM ${src}
               WHERE file_row_number NOT IN (SELECT _ord FROM dd_dropped) ORDER BY file_row_number)
         TO ${sqlString(join(dir, DATA_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await db.run(
        `COPY (
           SELECT conversation_id, reason, duplicate_of, similarity FROM (
             SELECT conversation_id, 'exact_duplicate' AS reason, _exact_keeper AS duplicate_of, 1.0::FLOAT AS similarity, _ord
             FROM dd_docs WHERE _rank > 1
             UNION ALL
             SELECT conversation_id, CASE WHEN drop_templated THEN 'templated_prompt' ELSE 'near_duplicate' END,
                    CASE WHEN drop_templated THEN NULL ELSE cluster_id END,
                    CASE WHEN drop_templated THEN NULL ELSE similarity END, _ord
             FROM dd_near WHERE dropped)
           ORDER BY _ord)
         TO ${sqlString(join(dir, DROPS_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await db.run(
        `COPY (SELECT conversation_id, cluster_id, cluster_size, NOT dropped AS kept, templated, template_family, similarity,
                      ${sqlString(o.keep)} AS keep_by
               FROM dd_near ORDER BY _ord)
         TO ${sqlString(join(dir, CLUSTERS_FILE))} (FORMAT parquet, COMPRESSION zstd)`,
      );
      const exactDrops = toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM dd_docs WHERE _rank > 1')).n);
      const texts = near ? await reportTexts(db, ords, near) : new Map<number, ReportText>();
      if (near) await writeNearPairs(db, join(dir, NEAR_PAIRS_FILE), ids, near, texts);
      await writeFile(join(dir, DEDUP_REPORT_FILE), renderDedupReport({ near, exactDrops, ids, texts, dropTemplated: o.templates.action === 'drop', keep: o.keep }));
      const notes: DedupNotes = near ? { near: near.stats } : {};
      return { notes };
    } finally {
      for (const t of ['dd_docs', 'dd_near', 'dd_dropped']) await db.run(`DROP TABLE IF EXISTS ${t}`);
    }
  },
});

/**
 * TABLE dd_near: one row per survivor of the exact step with its cluster and whether it
 * is dropped. A regular table because it is filled through Db's side connection.
 */
async function writeDecisions(db: Db, o: DedupOptions, ords: Int32Array, ids: string[], near: NearDedupResult | null): Promise<void> {
  await db.run(
    `CREATE OR REPLACE TABLE dd_near (_ord INTEGER, conversation_id VARCHAR, cluster_id VARCHAR, cluster_size INTEGER,
       similarity FLOAT, templated BOOLEAN, template_family VARCHAR, dropped BOOLEAN, drop_templated BOOLEAN)`,
  );
  const app = await db.appender('dd_near');
  const dropTemplated = o.templates.action === 'drop';
  for (let i = 0; i < ords.length; i++) {
    const keeper = near ? near.keeper[i]! : i;
    const templated = near ? near.templated[i] === 1 : false;
    const fam = near ? near.templateFamily[i]! : -1;
    const dropT = templated && dropTemplated;
    app.appendInteger(ords[i]!);
    app.appendVarchar(ids[i]!);
    app.appendVarchar(ids[keeper]!);
    app.appendInteger(near ? near.clusterSize[i]! : 1);
    app.appendFloat(near ? near.similarity[i]! : 1);
    app.appendBoolean(templated);
    if (fam >= 0) app.appendVarchar(ids[near!.templateFamilies[fam]!.first]!);
    else app.appendNull();
    app.appendBoolean(dropT || keeper !== i);
    app.appendBoolean(dropT);
    app.endRow();
  }
  app.closeSync();
}

/** Texts of the documents the report and near_pairs.parquet show, by stream position. */
async function reportTexts(db: Db, ords: Int32Array, near: NearDedupResult): Promise<Map<number, ReportText>> {
  const want = new Set<number>();
  for (const p of [...near.nearMisses, ...near.weakestMerges]) want.add(p.a).add(p.b);
  for (const f of near.templateFamilies.slice(0, 20)) want.add(f.first);
  for (const c of largestClusters(near, 20)) for (const m of c) want.add(m);
  const byOrd = new Map<number, number>();
  for (const pos of want) byOrd.set(ords[pos]!, pos);
  const out = new Map<number, ReportText>();
  if (byOrd.size === 0) return out;
  const rows = await db.all<{ o: number; t: string }>(`SELECT _ord AS o, _t AS t FROM dd_docs WHERE _ord IN (SELECT unnest($o::INTEGER[]))`, {
    o: `[${[...byOrd.keys()].join(',')}]`,
  });
  for (const r of rows) out.set(byOrd.get(r.o)!, { text: r.t });
  return out;
}

async function writeNearPairs(db: Db, path: string, ids: string[], near: NearDedupResult, texts: Map<number, ReportText>): Promise<void> {
  const rows = [
    ...near.nearMisses.map((p, r) => ({ kind: 'near_miss', rank: r + 1, ...p })),
    ...near.weakestMerges.map((p, r) => ({ kind: 'weakest_merge', rank: r + 1, ...p })),
  ].map((p) => ({ kind: p.kind, rank: p.rank, similarity: p.similarity, a_id: ids[p.a]!, b_id: ids[p.b]!, a_text: texts.get(p.a)?.text ?? '', b_text: texts.get(p.b)?.text ?? '' }));
  await db.run(
    `COPY (SELECT * FROM (SELECT unnest(from_json($j, '[{"kind":"VARCHAR","rank":"INTEGER","similarity":"FLOAT","a_id":"VARCHAR","b_id":"VARCHAR","a_text":"VARCHAR","b_text":"VARCHAR"}]'), recursive := true)) ORDER BY kind, rank)
     TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`,
    { j: JSON.stringify(rows) },
  );
}
