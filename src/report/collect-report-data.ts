import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlList, toNumber, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { readMarker, type StageMarker } from '../core/marker.js';
import type { DedupNotes } from '../stages/dedup/dedup-stage.js';
import type { IntentsNotes } from '../stages/intents/intents-stage.js';
import type { TokenizeNotes } from '../stages/tokenize/tokenize-stage.js';
import { DATA_FILE, DROPS_FILE, SAMPLE_DROPS_FILE } from '../core/stage.js';
import type { LeakReport, Manifest } from '../stages/shards/manifest.js';
import { conversationTexts, type ConversationText } from './conversation-texts.js';
import { findStageDir } from './find-stage-dir.js';
import { nearPairs, type NearPair, type NearPairs } from './near-pairs.js';
import type { BeforeAfter, BinCount, DropCount, StageSourceCount } from './report-charts.js';
import { tokenLengthBins } from './token-length-bins.js';

/** What the report shows: aggregates from DuckDB plus a bounded sample of examples. */
export interface ReportData {
  name: string;
  stages: { name: string; conversations_in: number; conversations_out: number; samples_out: number | null; seconds: number; drops: Record<string, number>; sample_drops: Record<string, number> }[];
  funnel: StageSourceCount[];
  drops: DropCount[];
  sampleDrops: { stage: string; reason: string; n: number }[];
  dropExamples: DropExample[];
  tokens: { maxSeqLen: number; summary: Manifest['tokens']; bins: BinCount[] } | null;
  userTurns: { turns: string; n: number }[];
  targetLengths: { bins: BinCount[]; cap: number; kinds: string[] };
  languages: BeforeAfter[];
  countries: BeforeAfter[];
  splitShares: { country: string; split: string; users: number }[];
  splits: Manifest['splits'];
  fractions: Record<string, number> | null;
  dedup: {
    notes: Record<string, unknown> | null;
    sizes: { size: number; kind: string; clusters: number }[];
    largest: { cluster_id: string; size: number; kind: 'exact' | 'near'; members: { conversation_id: string; kept: boolean; similarity: number | null; text: string }[] }[];
    templated: { count: number; examples: { conversation_id: string; text: string }[] };
    /** Pairs the dedup stage scored near its threshold (near_pairs.parquet); null when the run did not record them. */
    nearPairs: NearPairs | null;
  } | null;
  intents: { backends: { backend: string; n: number }[]; llm: Record<string, unknown> | null; prompt: unknown; examples: { conversation_id: string; intent: string; text: string }[] } | null;
  leaks: { report: LeakReport | null; pairs: { conversation_id: string; split: string; train_conversation_id: string; similarity: number; text: string; train_text: string }[] };
}

export interface DropExample {
  stage: string;
  reason: string;
  conversation_id: string;
  /** The drop record's other fields (duplicate_of, similarity, source file and row). */
  detail: Record<string, string>;
  messages: { role: string; content: string }[];
}

export interface CollectOptions {
  /** The recipe's stage names, in order. */
  stages: string[];
  /** split.fractions of the pipeline, when it is known. */
  fractions?: Record<string, number> | null;
  examplesPerReason?: number;
  /** Characters of each example message kept. */
  clip?: number;
}

const TOP_KEYS = 20;
const TARGET_CAP = 512;
const TARGET_BIN = 16;
const TURNS_CAP = 20;
/** A bound list of ids: passed as JSON text, since an empty bound list has no element type. */
const ID_LIST_SQL = (param: string) => `from_json(${param}, '["VARCHAR"]')`;

function clip(s: string | null | undefined, n: number): string {
  const t = (s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

interface StageInfo {
  name: string;
  order: number;
  dir: string;
  marker: StageMarker;
  /** Parquet files with the rows the stage passed on. */
  data: string[];
  /**
   * Whether data holds whole conversations (one row each, with messages). The stages between
   * flip and shards pass on narrow conversation rows (counts, split) whose text stays in the
   * intents stage's files; the shards hold samples.
   */
  conversationTexts: boolean;
}

async function columns(db: Db, files: string[]): Promise<string[]> {
  const rows = await db.all<{ column_name: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlList(files)})`);
  return rows.map((r) => r.column_name);
}

/** The finished stages of a run, in recipe order; a run missing one is refused with what to do. */
async function loadStages(db: Db, runDir: string, names: string[]): Promise<StageInfo[]> {
  const out: StageInfo[] = [];
  for (const [order, name] of names.entries()) {
    const dir = await findStageDir(runDir, name);
    const marker = dir ? await readMarker(dir) : null;
    if (!dir || !marker) {
      throw new SourceError(`${runDir} has no finished stage "${name}": it is not a complete run directory. Run the pipeline first (userlm-data run <pipeline.yaml>), then build the report.`);
    }
    const hasData = marker.files.some((f) => f.path === DATA_FILE);
    const data = hasData ? [join(dir, DATA_FILE)] : marker.files.filter((f) => f.path.startsWith('data/') && f.path.endsWith('.parquet')).map((f) => join(dir, f.path));
    const cols = data.length > 0 ? await columns(db, data) : [];
    out.push({ name, order, dir, marker, data, conversationTexts: cols.includes('messages') && !cols.includes('sample_id') });
  }
  return out;
}

function has(st: StageInfo, file: string): boolean {
  return st.marker.files.some((f) => f.path === file);
}

export async function collectReportData(db: Db, runDir: string, opts: CollectOptions): Promise<ReportData> {
  const perReason = opts.examplesPerReason ?? 3;
  const clipAt = opts.clip ?? 300;
  const stages = await loadStages(db, runDir, opts.stages);
  const first = stages[0]!;
  const last = stages[stages.length - 1]!;
  const manifest = JSON.parse(await readFile(join(last.dir, 'manifest.json'), 'utf8').catch(() => 'null')) as Manifest | null;
  if (!manifest) throw new SourceError(`${last.dir} has no manifest.json: the run did not finish its last stage. Rerun the pipeline, then build the report.`);
  const byName = new Map(stages.map((s) => [s.name, s]));

  // Texts are read last, in one pass per stage's files, for the few ids the narrow columns picked.
  const wanted = new Map<string, { files: string[]; ids: Set<string>; intent: boolean }>();
  const want = (files: string[], ids: string[], intent = false) => {
    const key = JSON.stringify(files);
    const w = wanted.get(key) ?? { files, ids: new Set<string>(), intent: false };
    for (const id of ids) w.ids.add(id);
    w.intent ||= intent;
    wanted.set(key, w);
  };
  let texts = new Map<string, Map<string, ConversationText>>();
  /** Assembly of the sections that quote texts, once the texts are read. */
  const finish: (() => void)[] = [];
  const textOf = (files: string[], id: string) => texts.get(JSON.stringify(files))?.get(id);

  // One scan of the first stage's narrow columns: conversations per source (normalize keeps one
  // row per conversation_id), and per language and country as read.
  const firstCounts = await db.all<{ what: string; k: string | null; n: unknown }>(
    `SELECT CASE WHEN grouping(source) = 0 THEN 'source' WHEN grouping(language) = 0 THEN 'language' ELSE 'country' END AS what,
            CASE WHEN grouping(source) = 0 THEN source WHEN grouping(language) = 0 THEN coalesce(language, '(unknown)') ELSE coalesce(country, '(unknown)') END AS k,
            count(*) AS n
     FROM read_parquet(${sqlList(first.data)}) GROUP BY GROUPING SETS ((source), (language), (country))`,
  );
  const firstOf = (what: string) => firstCounts.filter((r) => r.what === what);

  const drops: DropCount[] = [];
  const sampleDrops: ReportData['sampleDrops'] = [];
  const dropStages = stages.filter((st) => has(st, DROPS_FILE));
  if (dropStages.length) {
    // Every drop file in one query; drops without a source column are attributed through the
    // first stage's rows of just those ids.
    const parts: string[] = [];
    for (const st of dropStages) {
      const file = sqlList([join(st.dir, DROPS_FILE)]);
      const hasSource = (await columns(db, [join(st.dir, DROPS_FILE)])).includes('source');
      parts.push(`SELECT ${st.order} AS st, reason, conversation_id, ${hasSource ? 'source' : 'NULL::VARCHAR'} AS source, ${hasSource} AS has_source FROM read_parquet(${file})`);
    }
    const rows = await db.all<{ st: number; reason: string; source: string; n: unknown }>(
      `WITH d AS (${parts.join(' UNION ALL ')}),
            c AS (SELECT conversation_id, any_value(source) AS source FROM read_parquet(${sqlList(first.data)})
                  WHERE conversation_id IN (SELECT conversation_id FROM d WHERE NOT has_source) GROUP BY 1)
       SELECT d.st, d.reason, CASE WHEN d.has_source THEN d.source ELSE coalesce(c.source, '(unknown)') END AS source, count(*) AS n
       FROM d LEFT JOIN c ON c.conversation_id = d.conversation_id GROUP BY ALL ORDER BY 1, 2, 3`,
    );
    for (const r of rows) drops.push({ stage: stages[r.st]!.name, order: r.st, reason: r.reason, source: r.source, n: toNumber(r.n) });
  }
  const pickedDrops: { st: StageInfo; textStage: StageInfo | undefined; rows: Record<string, unknown>[] }[] = [];
  for (const [i, st] of stages.entries()) {
    if (has(st, DROPS_FILE)) {
      // The text comes from the nearest earlier stage that holds whole conversations.
      const textStage = stages.slice(0, i).reverse().find((s) => s.conversationTexts);
      const picked = await db.all<Record<string, unknown>>(
        `SELECT * FROM read_parquet(${sqlList([join(st.dir, DROPS_FILE)])})
         QUALIFY row_number() OVER (PARTITION BY reason ORDER BY md5(conversation_id), conversation_id) <= ${perReason}
         ORDER BY reason, md5(conversation_id), conversation_id`,
      );
      if (textStage) want(textStage.data, picked.map((p) => String(p['conversation_id'])));
      pickedDrops.push({ st, textStage, rows: picked });
    }
    if (has(st, SAMPLE_DROPS_FILE)) {
      for (const [reason, n] of Object.entries(st.marker.sample_drops ?? {})) sampleDrops.push({ stage: st.name, reason, n });
    }
  }

  // Per-source counts out of each stage: what came in minus what that stage dropped.
  const bySource = new Map<string, number>();
  for (const r of firstOf('source').sort((a, b) => String(a.k) < String(b.k) ? -1 : String(a.k) > String(b.k) ? 1 : 0)) bySource.set(r.k as string, toNumber(r.n));
  const funnel: StageSourceCount[] = [];
  for (const st of stages) {
    if (st.order > 0) for (const d of drops.filter((x) => x.stage === st.name)) bySource.set(d.source, (bySource.get(d.source) ?? 0) - d.n);
    for (const [source, n] of bySource) funnel.push({ stage: st.name, order: st.order, source, conversations: n });
  }

  const shards = last.data;
  const tokenizeMarker = byName.get('tokenize')?.marker;
  const maxSeqLen = manifest.tokens?.max_seq_len ?? toNumber((tokenizeMarker?.notes as TokenizeNotes | undefined)?.max_seq_len);
  const tokens = shards.length && maxSeqLen ? { maxSeqLen, summary: manifest.tokens, bins: await tokenLengthBins(db, shards, maxSeqLen) } : null;

  // One grouping of the shards by conversation for turns, languages and countries (a sample
  // carries its conversation's fields), instead of a DISTINCT scan for each.
  const shardConv = shards.length
    ? await db.all<{ what: string; k: string | number; n: unknown }>(
        `WITH c AS (SELECT any_value(num_user_turns) AS turns, any_value(language) AS language, any_value(country) AS country
                    FROM read_parquet(${sqlList(shards)}) GROUP BY conversation_id)
         SELECT CASE WHEN grouping(t) = 0 THEN 'turns' WHEN grouping(l) = 0 THEN 'language' ELSE 'country' END AS what,
                CASE WHEN grouping(t) = 0 THEN t::VARCHAR WHEN grouping(l) = 0 THEN l ELSE co END AS k, count(*) AS n
         FROM (SELECT least(turns, ${TURNS_CAP}) AS t, coalesce(language, '(unknown)') AS l, coalesce(country, '(unknown)') AS co FROM c)
         GROUP BY GROUPING SETS ((t), (l), (co))`,
      )
    : [];
  const userTurns = shardConv
    .filter((r) => r.what === 'turns')
    .map((r) => ({ t: Number(r.k), n: toNumber(r.n) }))
    .sort((a, b) => a.t - b.t)
    .map((r) => ({ turns: r.t >= TURNS_CAP ? `${TURNS_CAP}+` : String(r.t), n: r.n }));

  const targetRows = shards.length
    ? await db.all<{ kind: string; bin: number; n: unknown }>(
        `SELECT kind, least(floor(num_target_tokens / ${TARGET_BIN}) * ${TARGET_BIN}, ${TARGET_CAP})::INTEGER AS bin, count(*) AS n
         FROM read_parquet(${sqlList(shards)}) GROUP BY ALL ORDER BY 1, 2`,
      )
    : [];
  const kindRank = ['initiation', 'interaction', 'termination'];
  const kinds = [...new Set(targetRows.map((r) => r.kind))].sort((a, b) => kindRank.indexOf(a) - kindRank.indexOf(b));
  const targetLengths = { bins: targetRows.map((r) => ({ group: r.kind, bin: r.bin, bin_end: r.bin + TARGET_BIN, n: toNumber(r.n) })), cap: TARGET_CAP, kinds };

  const byCountThenKey = (x: { k: string; n: number }, y: { k: string; n: number }) => y.n - x.n || (x.k < y.k ? -1 : x.k > y.k ? 1 : 0);
  const beforeAfter = (col: string): BeforeAfter[] => {
    const before = firstOf(col).map((r) => ({ k: r.k as string, n: toNumber(r.n) })).sort(byCountThenKey);
    const after = shardConv.filter((r) => r.what === col).map((r) => ({ k: String(r.k), n: toNumber(r.n) }));
    const top = before.slice(0, TOP_KEYS).map((r) => r.k);
    const fold = (rows: { k: string; n: number }[], when: BeforeAfter['when']): BeforeAfter[] => {
      const m = new Map<string, number>();
      for (const r of rows) {
        const key = top.includes(r.k) ? r.k : '(all others)';
        m.set(key, (m.get(key) ?? 0) + r.n);
      }
      return [...top, '(all others)'].filter((k) => m.has(k)).map((k) => ({ key: k, when, n: m.get(k)! }));
    };
    return [...fold(before, 'before filtering'), ...fold(after, 'in the shards')];
  };
  const languages = beforeAfter('language');
  const countries = beforeAfter('country');

  const split = byName.get('split');
  const splitShares: ReportData['splitShares'] = [];
  if (split && has(split, 'users.parquet')) {
    const rows = await db.all<{ country: string; split: string; users: unknown; total: unknown }>(
      `SELECT coalesce(stratum, '(unknown)') AS country, split, count(*) AS users, sum(count(*)) OVER (PARTITION BY stratum) AS total
       FROM read_parquet(${sqlList([join(split.dir, 'users.parquet')])}) GROUP BY stratum, split ORDER BY total DESC, country, split`,
    );
    const top = [...new Set(rows.map((r) => r.country))].slice(0, TOP_KEYS);
    for (const r of rows) if (top.includes(r.country)) splitShares.push({ country: r.country, split: r.split, users: toNumber(r.users) });
  }

  const dedupStage = byName.get('dedup');
  let dedup: ReportData['dedup'] = null;
  if (dedupStage && has(dedupStage, 'clusters.parquet')) {
    const clusters = sqlList([join(dedupStage.dir, 'clusters.parquet')]);
    const dropsFile = sqlList([join(dedupStage.dir, DROPS_FILE)]);
    const inputFiles = stages[dedupStage.order - 1]!.data;
    const sizes: { size: number; kind: string; clusters: number }[] = [];
    for (const r of await db.all<{ size: number; n: unknown }>(
      `SELECT cluster_size AS size, count(DISTINCT cluster_id) AS n FROM read_parquet(${clusters}) WHERE cluster_size > 1 AND NOT templated GROUP BY 1 ORDER BY 1`,
    )) sizes.push({ size: r.size, kind: 'near-duplicate', clusters: toNumber(r.n) });
    const hasDrops = has(dedupStage, DROPS_FILE);
    if (hasDrops) {
      for (const r of await db.all<{ size: number; n: unknown }>(
        `SELECT size, count(*) AS n FROM (SELECT count(*) + 1 AS size FROM read_parquet(${dropsFile}) WHERE reason = 'exact_duplicate' GROUP BY duplicate_of) GROUP BY 1 ORDER BY 1`,
      )) sizes.push({ size: toNumber(r.size), kind: 'exact', clusters: toNumber(r.n) });
    }
    const largestNear = await db.all<{ cluster_id: string; size: number }>(
      `SELECT DISTINCT cluster_id, cluster_size AS size FROM read_parquet(${clusters}) WHERE cluster_size > 1 AND NOT templated ORDER BY size DESC, cluster_id LIMIT 8`,
    );
    const largestExact = hasDrops
      ? await db.all<{ cluster_id: string; size: unknown }>(
          `SELECT duplicate_of AS cluster_id, count(*) + 1 AS size FROM read_parquet(${dropsFile}) WHERE reason = 'exact_duplicate' GROUP BY 1 ORDER BY size DESC, cluster_id LIMIT 4`,
        )
      : [];
    // Ids from the narrow files here; the texts of the dedup input are read once, below.
    // An exact group and a near cluster can share a keeper id: members are keyed by kind too.
    const members = await db.all<{ kind: string; cluster_id: string; conversation_id: string; kept: boolean; similarity: number | null }>(
      `WITH m AS (SELECT 'near' AS kind, cluster_id, conversation_id, kept, similarity FROM read_parquet(${clusters}) WHERE list_contains(${ID_LIST_SQL('$near')}, cluster_id)
                  QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY kept DESC, similarity, conversation_id) <= 6
                  UNION ALL
                  SELECT 'exact', duplicate_of, conversation_id, false, 1.0::FLOAT FROM ${hasDrops ? `read_parquet(${dropsFile}) WHERE reason = 'exact_duplicate' AND list_contains(${ID_LIST_SQL('$exact')}, duplicate_of)` : '(SELECT NULL AS duplicate_of, NULL AS conversation_id) WHERE false'}
                  UNION ALL
                  SELECT 'exact', e, e, true, NULL FROM (SELECT unnest(${ID_LIST_SQL('$exact')}) AS e))
       SELECT * FROM m ORDER BY kind, cluster_id, kept DESC, similarity, conversation_id`,
      { near: JSON.stringify(largestNear.map((c) => c.cluster_id)), exact: JSON.stringify(largestExact.map((c) => c.cluster_id)) },
    );
    const templatedCount = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${clusters}) WHERE templated`)).n);
    const templatedIds = templatedCount
      ? (await db.all<{ conversation_id: string }>(`SELECT conversation_id FROM read_parquet(${clusters}) WHERE templated ORDER BY md5(conversation_id) LIMIT 8`)).map((r) => r.conversation_id)
      : [];
    const pairs = await nearPairs(db, dedupStage.dir);
    const pairIds = pairs ? [...pairs.closestUnmerged, ...pairs.loosestMerged].filter((p) => p.text_a === null || p.text_b === null).flatMap((p) => [p.a, p.b]) : [];
    want(inputFiles, [...members.map((m) => m.conversation_id), ...templatedIds, ...pairIds]);
    finish.push(() => {
      const textIn = (id: string) => textOf(inputFiles, id)?.firstUserTurn;
      const largest: NonNullable<ReportData['dedup']>['largest'] = [];
      const groups = [...largestNear.map((c) => ({ id: c.cluster_id, size: toNumber(c.size), kind: 'near' as const })), ...largestExact.map((c) => ({ id: c.cluster_id, size: toNumber(c.size), kind: 'exact' as const }))];
      for (const g of groups) {
        // A member whose text is not in the dedup input is left out, as a join would.
        const ms = members.filter((m) => m.kind === g.kind && m.cluster_id === g.id && textIn(m.conversation_id) !== undefined).slice(0, g.kind === 'exact' ? 4 : 6);
        largest.push({ cluster_id: g.id, size: g.size, kind: g.kind, members: ms.map((m) => ({ conversation_id: m.conversation_id, kept: m.kept, similarity: m.kept ? null : m.similarity, text: clip(textIn(m.conversation_id), clipAt) })) });
      }
      const withText = (p: NearPair): NearPair => ({ ...p, text_a: clip(p.text_a ?? textIn(p.a), clipAt), text_b: clip(p.text_b ?? textIn(p.b), clipAt) });
      dedup = {
        notes: ((dedupStage.marker.notes as DedupNotes).near as Record<string, unknown> | undefined) ?? null,
        sizes,
        largest,
        templated: { count: templatedCount, examples: templatedIds.filter((id) => textIn(id) !== undefined).map((id) => ({ conversation_id: id, text: clip(textIn(id), clipAt) })) },
        nearPairs: pairs && { ...pairs, closestUnmerged: pairs.closestUnmerged.map(withText), loosestMerged: pairs.loosestMerged.map(withText) },
      };
    });
  }

  const intentsStage = byName.get('intents');
  let intents: ReportData['intents'] = null;
  if (intentsStage?.data.length) {
    const data = sqlList(intentsStage.data);
    const files = intentsStage.data;
    const cols = await columns(db, files);
    const backends = cols.includes('intent_backend')
      ? (await db.all<{ backend: string; n: unknown }>(`SELECT coalesce(intent_backend, '(none)') AS backend, count(*) AS n FROM read_parquet(${data}) GROUP BY 1 ORDER BY n DESC, 1`)).map((r) => ({ backend: r.backend, n: toNumber(r.n) }))
      : [];
    // Ids first (one narrow column), then the texts of those few.
    const ids = (await db.all<{ conversation_id: string }>(`SELECT conversation_id FROM read_parquet(${data}) ORDER BY md5(conversation_id), conversation_id LIMIT 8`)).map((r) => r.conversation_id);
    want(files, ids, true);
    finish.push(() => {
      intents = {
        backends,
        llm: ((intentsStage.marker.notes as IntentsNotes).llm as Record<string, unknown> | undefined) ?? null,
        prompt: (intentsStage.marker.notes as IntentsNotes).prompt ?? null,
        examples: ids.flatMap((id) => {
          const t = textOf(files, id);
          return t ? [{ conversation_id: id, intent: t.intent ?? '', text: clip(t.firstUserTurn, clipAt) }] : [];
        }),
      };
    });
  }

  const leaks: ReportData['leaks'] = { report: manifest.leaks, pairs: [] };
  if (split && has(split, 'leaks.parquet') && intentsStage?.data.length) {
    const files = intentsStage.data;
    const top = await db.all<{ conversation_id: string; split: string; train_conversation_id: string; similarity: number }>(
      `SELECT conversation_id, split, train_conversation_id, similarity FROM read_parquet(${sqlList([join(split.dir, 'leaks.parquet')])}) ORDER BY similarity DESC, conversation_id LIMIT 10`,
    );
    want(files, top.flatMap((l) => [l.conversation_id, l.train_conversation_id]));
    finish.push(() => {
      leaks.pairs = top.map((p) => ({ ...p, text: clip(textOf(files, p.conversation_id)?.firstUserTurn, clipAt), train_text: clip(textOf(files, p.train_conversation_id)?.firstUserTurn, clipAt) }));
    });
  }

  texts = new Map();
  for (const [key, w] of wanted) texts.set(key, await conversationTexts(db, w.files, w.ids, w.intent));
  for (const f of finish) f();
  const dropExamples: DropExample[] = [];
  for (const { st, textStage, rows } of pickedDrops) {
    for (const p of rows) {
      const detail: Record<string, string> = {};
      for (const [k, v] of Object.entries(p)) {
        if (k === 'conversation_id' || k === 'reason' || v === null || v === undefined) continue;
        detail[k] = typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v);
      }
      const id = String(p['conversation_id']);
      dropExamples.push({
        stage: st.name,
        reason: String(p['reason']),
        conversation_id: id,
        detail,
        messages: ((textStage && textOf(textStage.data, id)?.head) ?? []).map((m) => ({ role: m.role, content: clip(m.content, clipAt) })),
      });
    }
  }

  return {
    name: manifest.name,
    stages: stages.map((s) => ({
      name: s.name,
      conversations_in: s.marker.conversations_in,
      conversations_out: s.marker.conversations_out,
      samples_out: s.marker.samples_out,
      seconds: s.marker.seconds,
      drops: s.marker.drops,
      sample_drops: s.marker.sample_drops ?? {},
    })),
    funnel,
    drops,
    sampleDrops,
    dropExamples,
    tokens,
    userTurns,
    targetLengths,
    languages,
    countries,
    splitShares,
    splits: manifest.splits,
    fractions: opts.fractions ?? null,
    dedup,
    intents,
    leaks,
  };
}

