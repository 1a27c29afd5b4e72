import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sqlList, toNumber, type Db } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { readMarker, type StageMarker } from '../core/marker.js';
import type { DedupNotes } from '../stages/dedup/dedup-stage.js';
import type { IntentsNotes } from '../stages/intents/intents-stage.js';
import type { TokenizeNotes } from '../stages/tokenize/tokenize-stage.js';
import { DATA_FILE, DROPS_FILE, SAMPLE_DROPS_FILE } from '../core/stage.js';
import { FIRST_USER_TURN_SQL } from '../stages/conversation-sql.js';
import type { LeakReport, Manifest } from '../stages/shards/manifest.js';
import { findStageDir } from './find-stage-dir.js';
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
  conversationLevel: boolean;
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
    const conversationLevel = data.length > 0 && !(await columns(db, data)).includes('sample_id');
    out.push({ name, order, dir, marker, data, conversationLevel });
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

  // Who each conversation is from, read once: every later drop is attributed through it.
  await db.run(`CREATE OR REPLACE TEMP TABLE report_conv AS SELECT conversation_id, any_value(source) AS source FROM read_parquet(${sqlList(first.data)}) GROUP BY conversation_id`);
  try {
    const drops: DropCount[] = [];
    const sampleDrops: ReportData['sampleDrops'] = [];
    const dropExamples: DropExample[] = [];
    for (const [i, st] of stages.entries()) {
      if (has(st, DROPS_FILE)) {
        const file = join(st.dir, DROPS_FILE);
        const cols = await columns(db, [file]);
        const sourceSql = cols.includes('source') ? 'd.source' : `coalesce(c.source, '(unknown)')`;
        const rows = await db.all<{ reason: string; source: string; n: unknown }>(
          `SELECT d.reason, ${sourceSql} AS source, count(*) AS n FROM read_parquet(${sqlList([file])}) d
           LEFT JOIN report_conv c ON c.conversation_id = d.conversation_id GROUP BY ALL ORDER BY 1, 2`,
        );
        for (const r of rows) drops.push({ stage: st.name, order: st.order, reason: r.reason, source: r.source, n: toNumber(r.n) });
        // The text comes from the nearest earlier stage that holds whole conversations.
        const textStage = stages.slice(0, i).reverse().find((s) => s.conversationLevel);
        const picked = await db.all<Record<string, unknown>>(
          `SELECT * FROM read_parquet(${sqlList([file])})
           QUALIFY row_number() OVER (PARTITION BY reason ORDER BY md5(conversation_id), conversation_id) <= ${perReason}
           ORDER BY reason, md5(conversation_id), conversation_id`,
        );
        const texts = new Map<string, { role: string; content: string }[]>();
        if (textStage && picked.length) {
          const ids = picked.map((p) => String(p['conversation_id']));
          const found = await db.all<{ conversation_id: string; messages: { role: string; content: string }[] }>(
            `SELECT conversation_id, any_value(messages)[1:4] AS messages FROM read_parquet(${sqlList(textStage.data)})
             WHERE list_contains(${ID_LIST_SQL('$ids')}, conversation_id) GROUP BY conversation_id`,
            { ids: JSON.stringify(ids) },
          );
          for (const f of found) texts.set(f.conversation_id, f.messages);
        }
        for (const p of picked) {
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
            messages: (texts.get(id) ?? []).map((m) => ({ role: m.role, content: clip(m.content, clipAt) })),
          });
        }
      }
      if (has(st, SAMPLE_DROPS_FILE)) {
        for (const [reason, n] of Object.entries(st.marker.sample_drops ?? {})) sampleDrops.push({ stage: st.name, reason, n });
      }
    }

    // Per-source counts out of each stage: what came in minus what that stage dropped.
    const bySource = new Map<string, number>();
    for (const r of await db.all<{ source: string; n: unknown }>(`SELECT source, count(*) AS n FROM report_conv GROUP BY 1 ORDER BY 1`)) bySource.set(r.source, toNumber(r.n));
    const funnel: StageSourceCount[] = [];
    for (const st of stages) {
      if (st.order > 0) for (const d of drops.filter((x) => x.stage === st.name)) bySource.set(d.source, (bySource.get(d.source) ?? 0) - d.n);
      for (const [source, n] of bySource) funnel.push({ stage: st.name, order: st.order, source, conversations: n });
    }

    const shards = last.data;
    const tokenizeMarker = byName.get('tokenize')?.marker;
    const maxSeqLen = manifest.tokens?.max_seq_len ?? toNumber((tokenizeMarker?.notes as TokenizeNotes | undefined)?.max_seq_len);
    const tokens = shards.length && maxSeqLen ? { maxSeqLen, summary: manifest.tokens, bins: await tokenLengthBins(db, shards, maxSeqLen) } : null;

    const userTurns = shards.length
      ? (
          await db.all<{ turns: number; n: unknown }>(
            `SELECT least(num_user_turns, ${TURNS_CAP}) AS turns, count(*) AS n
             FROM (SELECT DISTINCT conversation_id, num_user_turns FROM read_parquet(${sqlList(shards)})) GROUP BY 1 ORDER BY 1`,
          )
        ).map((r) => ({ turns: r.turns >= TURNS_CAP ? `${TURNS_CAP}+` : String(r.turns), n: toNumber(r.n) }))
      : [];

    const targetRows = shards.length
      ? await db.all<{ kind: string; bin: number; n: unknown }>(
          `SELECT kind, least(floor(num_target_tokens / ${TARGET_BIN}) * ${TARGET_BIN}, ${TARGET_CAP})::INTEGER AS bin, count(*) AS n
           FROM read_parquet(${sqlList(shards)}) GROUP BY ALL ORDER BY 1, 2`,
        )
      : [];
    const kindRank = ['initiation', 'interaction', 'termination'];
    const kinds = [...new Set(targetRows.map((r) => r.kind))].sort((a, b) => kindRank.indexOf(a) - kindRank.indexOf(b));
    const targetLengths = { bins: targetRows.map((r) => ({ group: r.kind, bin: r.bin, bin_end: r.bin + TARGET_BIN, n: toNumber(r.n) })), cap: TARGET_CAP, kinds };

    const beforeAfter = async (col: string): Promise<BeforeAfter[]> => {
      const before = await db.all<{ k: string; n: unknown }>(
        `SELECT coalesce(${col}, '(unknown)') AS k, count(*) AS n FROM read_parquet(${sqlList(first.data)}) GROUP BY 1 ORDER BY n DESC, k`,
      );
      const after = shards.length
        ? await db.all<{ k: string; n: unknown }>(
            `SELECT coalesce(${col}, '(unknown)') AS k, count(DISTINCT conversation_id) AS n FROM read_parquet(${sqlList(shards)}) GROUP BY 1`,
          )
        : [];
      const top = before.slice(0, TOP_KEYS).map((r) => r.k);
      const fold = (rows: { k: string; n: unknown }[], when: BeforeAfter['when']): BeforeAfter[] => {
        const m = new Map<string, number>();
        for (const r of rows) {
          const key = top.includes(r.k) ? r.k : '(all others)';
          m.set(key, (m.get(key) ?? 0) + toNumber(r.n));
        }
        return [...top, '(all others)'].filter((k) => m.has(k)).map((k) => ({ key: k, when, n: m.get(k)! }));
      };
      return [...fold(before, 'before filtering'), ...fold(after, 'in the shards')];
    };
    const languages = await beforeAfter('language');
    const countries = await beforeAfter('country');

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
      const input = sqlList(stages[dedupStage.order - 1]!.data);
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
      // One scan of the dedup input for every shown group's texts, not one per group.
      const members = await db.all<{ kind: string; cluster_id: string; conversation_id: string; kept: boolean; similarity: number | null; text: string }>(
        `WITH m AS (SELECT 'near' AS kind, cluster_id, conversation_id, kept, similarity FROM read_parquet(${clusters}) WHERE list_contains(${ID_LIST_SQL('$near')}, cluster_id)
                    QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY kept DESC, similarity, conversation_id) <= 6
                    UNION ALL
                    SELECT 'exact', duplicate_of, conversation_id, false, 1.0::FLOAT FROM ${hasDrops ? `read_parquet(${dropsFile}) WHERE reason = 'exact_duplicate' AND list_contains(${ID_LIST_SQL('$exact')}, duplicate_of)` : '(SELECT NULL AS duplicate_of, NULL AS conversation_id) WHERE false'}
                    UNION ALL
                    SELECT 'exact', unnest(${ID_LIST_SQL('$exact')}) AS e, e, true, NULL)
         SELECT m.*, ${FIRST_USER_TURN_SQL} AS text FROM m JOIN (SELECT conversation_id, messages FROM read_parquet(${input}) WHERE conversation_id IN (SELECT conversation_id FROM m)) t USING (conversation_id)
         ORDER BY m.cluster_id, m.kept DESC, m.similarity, m.conversation_id`,
        { near: JSON.stringify(largestNear.map((c) => c.cluster_id)), exact: JSON.stringify(largestExact.map((c) => c.cluster_id)) },
      );
      const largest: NonNullable<ReportData['dedup']>['largest'] = [];
      const groups = [...largestNear.map((c) => ({ id: c.cluster_id, size: toNumber(c.size), kind: 'near' as const })), ...largestExact.map((c) => ({ id: c.cluster_id, size: toNumber(c.size), kind: 'exact' as const }))];
      for (const g of groups) {
        // An exact group's keeper can also keep a near cluster under the same id.
        const ms = members.filter((m) => m.cluster_id === g.id && m.kind === g.kind).slice(0, g.kind === 'exact' ? 4 : 6);
        largest.push({ cluster_id: g.id, size: g.size, kind: g.kind, members: ms.map((m) => ({ conversation_id: m.conversation_id, kept: m.kept, similarity: m.kept ? null : m.similarity, text: clip(m.text, clipAt) })) });
      }
      const templatedCount = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${clusters}) WHERE templated`)).n);
      const templatedExamples = templatedCount
        ? await db.all<{ conversation_id: string; text: string }>(
            `SELECT conversation_id, ${FIRST_USER_TURN_SQL} AS text FROM read_parquet(${input})
             WHERE conversation_id IN (SELECT conversation_id FROM read_parquet(${clusters}) WHERE templated ORDER BY md5(conversation_id) LIMIT 8)
             ORDER BY md5(conversation_id)`,
          )
        : [];
      dedup = {
        notes: ((dedupStage.marker.notes as DedupNotes).near as Record<string, unknown> | undefined) ?? null,
        sizes,
        largest,
        templated: { count: templatedCount, examples: templatedExamples.map((t) => ({ conversation_id: t.conversation_id, text: clip(t.text, clipAt) })) },
      };
    }

    const intentsStage = byName.get('intents');
    let intents: ReportData['intents'] = null;
    if (intentsStage?.data.length) {
      const data = sqlList(intentsStage.data);
      const cols = await columns(db, intentsStage.data);
      const backends = cols.includes('intent_backend')
        ? (await db.all<{ backend: string; n: unknown }>(`SELECT coalesce(intent_backend, '(none)') AS backend, count(*) AS n FROM read_parquet(${data}) GROUP BY 1 ORDER BY n DESC, 1`)).map((r) => ({ backend: r.backend, n: toNumber(r.n) }))
        : [];
      // Ids first (one narrow column), then the texts of those few.
      const examples = await db.all<{ conversation_id: string; intent: string; text: string }>(
        `WITH ids AS (SELECT conversation_id FROM read_parquet(${data}) ORDER BY md5(conversation_id), conversation_id LIMIT 8)
         SELECT conversation_id, intent, ${FIRST_USER_TURN_SQL} AS text FROM read_parquet(${data})
         WHERE conversation_id IN (SELECT conversation_id FROM ids) ORDER BY md5(conversation_id), conversation_id`,
      );
      intents = {
        backends,
        llm: ((intentsStage.marker.notes as IntentsNotes).llm as Record<string, unknown> | undefined) ?? null,
        prompt: (intentsStage.marker.notes as IntentsNotes).prompt ?? null,
        examples: examples.map((e) => ({ conversation_id: e.conversation_id, intent: e.intent, text: clip(e.text, clipAt) })),
      };
    }

    const leaks: ReportData['leaks'] = { report: manifest.leaks, pairs: [] };
    if (split && has(split, 'leaks.parquet') && intentsStage?.data.length) {
      const data = sqlList(intentsStage.data);
      const pairs = await db.all<{ conversation_id: string; split: string; train_conversation_id: string; similarity: number; text: string; train_text: string }>(
        `WITH l AS (SELECT * FROM read_parquet(${sqlList([join(split.dir, 'leaks.parquet')])}) ORDER BY similarity DESC, conversation_id LIMIT 10),
              t AS (SELECT conversation_id, ${FIRST_USER_TURN_SQL} AS text FROM read_parquet(${data})
                    WHERE conversation_id IN (SELECT conversation_id FROM l UNION ALL SELECT train_conversation_id FROM l))
         SELECT l.conversation_id, l.split, l.train_conversation_id, l.similarity, a.text, b.text AS train_text
         FROM l LEFT JOIN t a ON a.conversation_id = l.conversation_id LEFT JOIN t b ON b.conversation_id = l.train_conversation_id
         ORDER BY l.similarity DESC, l.conversation_id`,
      );
      leaks.pairs = pairs.map((p) => ({ ...p, text: clip(p.text, clipAt), train_text: clip(p.train_text, clipAt) }));
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
  } finally {
    await db.run('DROP TABLE IF EXISTS report_conv');
  }
}

