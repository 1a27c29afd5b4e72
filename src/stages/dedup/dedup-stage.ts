import { writeFile } from 'node:fs/promises';
import type { DuckDBIntegerVector, DuckDBVarCharVector } from '@duckdb/node-api';
import { join } from 'node:path';
import type { DedupKeep, DedupOptions } from '../../config/pipeline-config.js';
import { sqlString, toNumber, type Db } from '../../core/db.js';
import { collectGarbage } from '../../core/collect-garbage.js';
import { startProgress } from '../../core/progress.js';
import { copyKeptRows } from '../../core/copy-kept-rows.js';
import { DATA_FILE, DROPS_FILE, STAGE_PARQUET, defineStage } from '../../core/stage.js';
import { ALL_USER_TURNS_SQL, FIRST_USER_TURN_SQL, USER_MESSAGES_SQL } from '../conversation-sql.js';
import { exactKeepers } from './exact-duplicates.js';
import { largestClusters, renderDedupReport, type ReportText } from './dedup-report.js';
import { dedupSketchOptions, findNearDuplicates, gatherSketches, sketchWorkers, type NearDedupResult, type NearDedupStats } from './near-dedup.js';
import { sketchDocuments, type Sketches, type TextBatch } from './sketch-documents.js';
import { Runs } from './runs.js';

export const DEDUP_REPORT_FILE = 'dedup_report.md';
export const CLUSTERS_FILE = 'clusters.parquet';
/** Near misses and weakest merges, for `inspect --dedup --near-misses N`. */
export const NEAR_PAIRS_FILE = 'near_pairs.parquet';
/** Pairs of each kind kept in NEAR_PAIRS_FILE. */
export const NEAR_PAIRS_KEPT = 200;

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
  /** Seconds of the steps around them: keeper priority, writing data/drops/clusters, the report's texts and files. */
  seconds_order: number;
  seconds_write: number;
  /** Parts of seconds_write: the decisions table (appended from JavaScript), and the data.parquet COPY (the rest: drops and clusters). */
  seconds_decisions?: number;
  seconds_data?: number;
  seconds_report: number;
}

const since = (t: number) => Math.round(performance.now() - t) / 1000;

/**
 * One streamed pass over the input's user sides, in worker threads, gives every
 * conversation's exact key, word sequence, LSH band keys and template n-grams; exact
 * groups (the first in keeper priority stays), templated prompts and near-duplicates are
 * then computed on typed arrays (near-dedup.ts), and the decisions go back as one narrow
 * table in input order (drops and clusters are POSITIONAL JOINs of it with the input's ids)
 * and as a mask of kept rows, by which copyKeptRows writes data.parquet (no sort, no join). clusters.parquet records every survivor of the exact step with
 * its cluster and how its keeper was chosen; dedup_report.md shows the largest clusters,
 * the template families and the near misses; near_pairs.parquet holds the pairs on either
 * side of the threshold.
 */
export const dedupStage = defineStage({
  name: 'dedup',
  // 9: files written with STAGE_PARQUET (zstd level 1).
  // 10: data.parquet by copyKeptRows (same rows; row groups may differ).
  version: 10,
  options: (p) => {
    const d = p.config.stages.dedup;
    // Worker count does not change the output, so it does not invalidate the stage.
    const { workers: _w, ...near } = d.near;
    return { exact: d.exact, near, templates: d.templates, keep: d.keep, seed: p.config.seed };
  },
  async run({ db, pipeline, dir, input, log }) {
    const o = pipeline.config.stages.dedup;
    const src = `read_parquet(${sqlString(input!)}, file_row_number = true)`;
    const n = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(input!)})`)).n);
    const tOrder = performance.now();
    // Keeper priority: only the columns it orders by are read.
    const byPriority = new Int32Array(n);
    {
      const r = await db.conn.stream(`SELECT CAST(file_row_number AS INTEGER) FROM ${src} ORDER BY ${keeperOrderSql(o.keep)}`);
      let k = 0;
      for (let chunk = await r.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await r.fetchChunk()) {
        const rows = chunk.getColumnVector(0) as DuckDBIntegerVector;
        for (let i = 0; i < chunk.rowCount; i++) byPriority[k++] = rows.getItem(i)!;
      }
      if (k !== n) throw new Error(`dedup: ${k} rows ordered, ${n} counted in ${input}`);
    }
    const secondsOrder = since(tOrder);
    const sketchOptions = dedupSketchOptions(o, pipeline.config.seed);
    const runNear = o.near.enabled || o.templates.enabled;
    const t0 = performance.now();
    const progress = startProgress(log, 'dedup keys and signatures', n, 'conversations');
    const stream = await db.conn.stream(
      `SELECT CAST(file_row_number AS INTEGER), array_to_string(list_transform(${USER_MESSAGES_SQL}, m -> coalesce(m.content, '')), chr(31)) FROM ${src}`,
    );
    let seen = 0;
    // Conversation ids stay in DuckDB (the output is joined to them by row number): reading a
    // million id strings into JS cost more than the rest of the stream's conversions.
    async function* batches(): AsyncGenerator<TextBatch> {
      let texts: string[] = [];
      for (let chunk = await stream.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await stream.fetchChunk()) {
        const rows = chunk.getColumnVector(0) as DuckDBIntegerVector;
        const sides = chunk.getColumnVector(1) as DuckDBVarCharVector;
        for (let i = 0; i < chunk.rowCount; i++) {
          // The stream is in file order; checked, since every array below is indexed by it.
          if (rows.getItem(i) !== seen) throw new Error(`dedup: row ${String(rows.getItem(i))} of ${input} arrived at position ${seen}`);
          seen++;
          texts.push(sides.getItem(i) ?? '');
        }
        // DuckDB hands out chunks of 2048 rows; batches of ~8k amortise the message passing.
        if (texts.length >= 8192) {
          yield { texts };
          texts = [];
        }
      }
      if (texts.length) yield { texts };
    }
    const sk = await sketchDocuments(batches(), n, sketchOptions, sketchWorkers(pipeline), (k) => progress.tick(k));
    progress.stop();
    const secondsSketch = (performance.now() - t0) / 1000;
    const exactKeeper = o.exact.enabled ? exactKeepers(sk.exactKeys, byPriority) : Int32Array.from({ length: n }, (_, i) => i);
    // Survivors of the exact step in priority order: near-dedup's positions.
    let m = 0;
    for (let i = 0; i < n; i++) if (exactKeeper[i] === i) m++;
    const order = new Int32Array(m);
    m = 0;
    for (const d of byPriority) if (exactKeeper[d] === d) order[m++] = d;
    // The sketches in priority order; the input-order band keys (100 bytes a conversation)
    // are let go before near-dedup allocates its own.
    let inPriority: Sketches | null = runNear ? gatherSketches(sk, order, sketchOptions.bands ?? 0) : null;
    sk.bandKeys = new Uint32Array(0);
    sk.exactKeys = new Uint32Array(0);
    const near = inPriority ? findNearDuplicates(o, { sketches: inPriority, secondsSketch, pairsToReport: NEAR_PAIRS_KEPT }) : null;
    inPriority = null;
    // From here on only per-conversation decisions are needed: the word and template runs
    // (most of the stage's JavaScript memory) go before DuckDB takes its share to write.
    sk.words = new Uint32Array(0);
    sk.templates = Runs.empty(0);
    sk.wordSeq = Runs.empty(0);
    collectGarbage();
    const exactDrops = n - m;
    const tWrite = performance.now();
    let secondsDecisions = 0;
    let secondsData = 0;
    try {
      const keep = await writeDecisions(db, src, o, n, exactKeeper, order, near);
      secondsDecisions = since(tWrite);
      const tData = performance.now();
      await copyKeptRows(db, input!, keep, join(dir, DATA_FILE));
      secondsData = since(tData);
      // Each row's own id comes from the input by position (a projection: the input's order).
      const withIds = `SELECT s.conversation_id, d.* FROM (SELECT conversation_id FROM read_parquet(${sqlString(input!)})) s POSITIONAL JOIN dd_decisions d`;
      await db.run(
        `COPY (SELECT conversation_id, reason, duplicate_of, similarity FROM (${withIds}) WHERE dropped)
         TO ${sqlString(join(dir, DROPS_FILE))} (${STAGE_PARQUET})`,
      );
      await db.run(
        `COPY (SELECT conversation_id, coalesce(cluster_id, conversation_id) AS cluster_id, cluster_size, kept, templated, template_family, similarity, ${sqlString(o.keep)} AS keep_by
               FROM (${withIds}) WHERE reason IS DISTINCT FROM 'exact_duplicate')
         TO ${sqlString(join(dir, CLUSTERS_FILE))} (${STAGE_PARQUET})`,
      );
    } finally {
      await db.run('DROP TABLE IF EXISTS dd_decisions');
    }
    const secondsWrite = since(tWrite);
    const tReport = performance.now();
    const textSql = o.near.text === 'first_user_turn' ? FIRST_USER_TURN_SQL : ALL_USER_TURNS_SQL;
    const texts = near ? await reportTexts(db, src, textSql, order, near) : new Map<number, ReportText & { id: string }>();
    // Ids of the positions the report and near_pairs.parquet show (the only ones they read).
    const idsByPos: string[] = new Array(order.length);
    for (const [p, t] of texts) idsByPos[p] = t.id;
    if (near) await writeNearPairs(db, join(dir, NEAR_PAIRS_FILE), idsByPos, near, texts);
    await writeFile(join(dir, DEDUP_REPORT_FILE), renderDedupReport({ near, exactDrops, ids: idsByPos, texts, dropTemplated: o.templates.action === 'drop', keep: o.keep }));
    const timings = { seconds_order: secondsOrder, seconds_write: secondsWrite, seconds_decisions: secondsDecisions, seconds_data: secondsData, seconds_report: since(tReport) };
    const notes: DedupNotes = near ? { near: near.stats, ...timings } : timings;
    return { notes };
  },
});

/**
 * TABLE dd_decisions: one row per input row, in input order (for the POSITIONAL JOIN), with
 * whether it is dropped and why, and its cluster. Ids are written only where a row names
 * another conversation (its keeper or template family; cluster_id NULL: the row's own id),
 * read from the input for those rows alone: reading a million id strings into JS and
 * appending them back cost more than the rest of the stream's conversions. A regular table
 * because it is filled through Db's side connection.
 */
async function writeDecisions(db: Db, src: string, o: DedupOptions, n: number, exactKeeper: Int32Array, order: Int32Array, near: NearDedupResult | null): Promise<string> {
  const pos = new Int32Array(n).fill(-1);
  for (let p = 0; p < order.length; p++) pos[order[p]!] = p;
  const named = new Set<number>();
  for (let i = 0; i < n; i++) {
    const p = pos[i]!;
    if (p < 0) named.add(exactKeeper[i]!);
    else if (near && near.keeper[p] !== p) named.add(order[near.keeper[p]!]!);
  }
  if (near) for (const f of near.templateFamilies) named.add(order[f.first]!);
  const ids = await idsOfRows(db, src, named);
  await db.run(
    `CREATE OR REPLACE TABLE dd_decisions (dropped BOOLEAN, reason VARCHAR, duplicate_of VARCHAR, similarity FLOAT,
       cluster_id VARCHAR, cluster_size INTEGER, kept BOOLEAN, templated BOOLEAN, template_family VARCHAR)`,
  );
  const app = await db.appender('dd_decisions');
  const dropTemplated = o.templates.action === 'drop';
  // '1' for a kept row, '0' for a dropped one (copyKeptRows' mask).
  const keep = Buffer.alloc(n, '1'.charCodeAt(0));
  for (let i = 0; i < n; i++) {
    const p = pos[i]!;
    if (p < 0) {
      keep[i] = '0'.charCodeAt(0);
      app.appendBoolean(true);
      app.appendVarchar('exact_duplicate');
      app.appendVarchar(ids.get(exactKeeper[i]!)!);
      app.appendFloat(1);
      for (let k = 0; k < 5; k++) app.appendNull();
      app.endRow();
      continue;
    }
    const keeper = near ? near.keeper[p]! : p;
    const templated = near ? near.templated[p] === 1 : false;
    const fam = near ? near.templateFamily[p]! : -1;
    const dropT = templated && dropTemplated;
    const dropped = dropT || keeper !== p;
    if (dropped) keep[i] = '0'.charCodeAt(0);
    const similarity = near ? near.similarity[p]! : 1;
    app.appendBoolean(dropped);
    if (!dropped) {
      app.appendNull();
      app.appendNull();
      app.appendNull();
    } else if (dropT) {
      app.appendVarchar('templated_prompt');
      app.appendNull();
      app.appendNull();
    } else {
      app.appendVarchar('near_duplicate');
      app.appendVarchar(ids.get(order[keeper]!)!);
      app.appendFloat(similarity);
    }
    if (keeper === p) app.appendNull();
    else app.appendVarchar(ids.get(order[keeper]!)!);
    app.appendInteger(near ? near.clusterSize[p]! : 1);
    app.appendBoolean(!dropped);
    app.appendBoolean(templated);
    if (fam >= 0) app.appendVarchar(ids.get(order[near!.templateFamilies[fam]!.first]!)!);
    else app.appendNull();
    app.endRow();
  }
  app.closeSync();
  return keep.toString('latin1');
}

/** conversation_id of the given input rows (a narrow scan of one column). */
async function idsOfRows(db: Db, src: string, rows: Set<number>): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  if (rows.size === 0) return out;
  const got = await db.all<{ r: number; id: string }>(
    `SELECT CAST(file_row_number AS INTEGER) AS r, conversation_id AS id FROM ${src} WHERE file_row_number IN (SELECT unnest($r::BIGINT[]))`,
    { r: `[${[...rows].join(',')}]` },
  );
  for (const g of got) out.set(g.r, g.id);
  if (out.size !== rows.size) throw new Error(`dedup: ${rows.size - out.size} of the rows named as keepers are not in the input`);
  return out;
}

/**
 * Texts of the documents the report and near_pairs.parquet show, by position: a few hundred
 * rows fetched from the input by row number (a narrow scan of the user turns).
 */
async function reportTexts(db: Db, src: string, textSql: string, order: Int32Array, near: NearDedupResult): Promise<Map<number, ReportText & { id: string }>> {
  const want = new Set<number>();
  for (const p of [...near.nearMisses, ...near.weakestMerges]) want.add(p.a).add(p.b);
  for (const f of near.templateFamilies.slice(0, 20)) want.add(f.first);
  for (const c of largestClusters(near, 20)) for (const m of c) want.add(m);
  const byOrd = new Map<number, number>();
  for (const p of want) byOrd.set(order[p]!, p);
  const out = new Map<number, ReportText & { id: string }>();
  if (byOrd.size === 0) return out;
  const rows = await db.all<{ o: number; id: string; t: string }>(
    `SELECT CAST(file_row_number AS INTEGER) AS o, conversation_id AS id, ${textSql} AS t FROM ${src} WHERE file_row_number IN (SELECT unnest($o::BIGINT[]))`,
    { o: `[${[...byOrd.keys()].join(',')}]` },
  );
  for (const r of rows) out.set(byOrd.get(r.o)!, { id: r.id, text: r.t });
  return out;
}

async function writeNearPairs(db: Db, path: string, ids: string[], near: NearDedupResult, texts: Map<number, ReportText>): Promise<void> {
  const rows = [
    ...near.nearMisses.map((p, r) => ({ kind: 'near_miss', rank: r + 1, ...p })),
    ...near.weakestMerges.map((p, r) => ({ kind: 'weakest_merge', rank: r + 1, ...p })),
  ].map((p) => ({ kind: p.kind, rank: p.rank, similarity: p.similarity, a_id: ids[p.a]!, b_id: ids[p.b]!, a_text: texts.get(p.a)?.text ?? '', b_text: texts.get(p.b)?.text ?? '' }));
  await db.run(
    `COPY (SELECT * FROM (SELECT unnest(from_json($j, '[{"kind":"VARCHAR","rank":"INTEGER","similarity":"FLOAT","a_id":"VARCHAR","b_id":"VARCHAR","a_text":"VARCHAR","b_text":"VARCHAR"}]'), recursive := true)) ORDER BY kind, rank)
     TO ${sqlString(path)} (${STAGE_PARQUET})`,
    { j: JSON.stringify(rows) },
  );
}
