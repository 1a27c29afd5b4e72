import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBValue } from '@duckdb/node-api';
import { sqlString, toNumber } from '../../core/db.js';
import { SourceError, UserlmError } from '../../core/errors.js';
import { sha256File } from '../../core/hash.js';
import { duckdbMemoryLimitBytes } from '../../core/memory-budget.js';
import { DATA_FILE, DROPS_FILE, STAGE_PARQUET, defineStage } from '../../core/stage.js';
import { sourceDefinition } from '../../sources/registry.js';
import { resolveSourceFiles } from '../../sources/resolve-files.js';
import { CANONICAL_COLUMNS } from '../../sources/source-adapter.js';
import { firstLine } from '../../sources/read-parquet.js';
import { hubCacheDir } from '../../hub/hub-cache-dir.js';
import type { LoadedPipeline, SourceConfig } from '../../config/pipeline-config.js';
import { DETECT, DETECT_CHARS, LANGUAGE_DETECTOR } from '../../sources/detect-language.js';
import { DETECTED_TABLE, labelLanguages, type DetectedLanguages } from './label-languages.js';
import { tempDiskNeed, tempDiskWarning } from './temp-disk-need.js';
import { REPAIRS, repairSelect, type Repair, type RepairOptions } from './repair-turns.js';

/** A DuckDB error while reading the sources, as a SourceError naming the source and file. */
function sourceReadError(e: unknown, pipeline: LoadedPipeline, filesOf: string[][]): SourceError {
  // DuckDB names the file it failed on, not the source; find the source that lists it.
  const msg = firstLine(e);
  // An adapter's own check (SQL error()) already names the source, file and record.
  const own = /^Invalid Input Error: (sources\[\d+\] .*)$/.exec(msg);
  if (own) return new SourceError(own[1]!);
  const hit = pipeline.config.sources.flatMap((s, i) => (filesOf[i] ?? []).map((f) => ({ i, s, f }))).find((x) => msg.includes(x.f));
  return new SourceError(
    hit
      ? `sources[${hit.i}] (${hit.s.name}): cannot read ${hit.f}: ${msg}. The file is damaged or not what the source type expects: ` +
          `re-download it${hit.s.hub ? ' with `userlm-data pull`' : ''} or remove it from sources[${hit.i}].files, then rerun.`
      : `cannot read the sources: ${msg}. Check the files named in sources and their format.`,
  );
}

const where = (p: LoadedPipeline) => ({ runDir: p.config.run_dir, cacheDir: hubCacheDir() });

/** A source file as read: its path (the repo path for a Hub file), size and sha256. */
export interface HashedSourceFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface NormalizeNotes {
  /** Per source name, the files read. */
  sources: Record<string, HashedSourceFile[]>;
  /** Per Hub source name, the commit its files were read from. */
  hub_commits?: Record<string, string>;
  /** Per source name, what its adapter noted (columns a variant lacked, repaired records, ...). */
  adapters?: Record<string, Record<string, number | string | string[]>>;
  /** Per source name, how many kept conversations each repair changed (sources[].trim, consecutive_roles). */
  repairs?: Record<string, Partial<Record<Repair, number>>>;
  /** Per source with `language: detect`, the labels the detector gave its kept conversations. */
  languages_detected?: Record<string, DetectedLanguages>;
  /**
   * Per source some of whose kept conversations have no user key (each then counts as its own
   * user in the split): how many, of how many kept.
   */
  user_keys_missing?: Record<string, { conversations: number; without_user_key: number }>;
}

/** A source's repairs: its trim and consecutive_roles keys, else its type's defaults. */
export function repairOptions(source: SourceConfig): RepairOptions {
  const d = sourceDefinition(source.type).defaultRepairs?.(source) ?? { leading_assistant: false, trailing_user: false };
  return {
    leading_assistant: source.trim?.leading_assistant ?? d.leading_assistant,
    trailing_user: source.trim?.trailing_user ?? d.trailing_user,
    merge_consecutive: source.consecutive_roles === 'merge',
  };
}

/**
 * Every source mapped to the canonical Conversation, in one file, in source, file and row order. Conversation ids are
 * prefixed with the source name; a repeated id within the pipeline keeps its first row and
 * drops the others (reason duplicate_id).
 */
export const normalizeStage = defineStage({
  name: 'normalize',
  // 2: invalid UTF-8 in JSON lines is an error, lone surrogates a drop (invalid_unicode).
  // 3: repairs (trim, consecutive_roles); fallback ids unique across files; JSON read with a fixed schema.
  // 4: files written with STAGE_PARQUET (zstd level 1).
  // 5: data.parquet in row groups of 16,384 rows, copied from the sources without a table of the text.
  version: 5,
  // A detecting source's labels depend on the detector and how much text it reads.
  options: (p) => p.config.sources.map(({ hub: _hub, ...s }) => (s.language === DETECT ? { ...s, language_detector: LANGUAGE_DETECTOR, detect_chars: DETECT_CHARS } : s)),
  async externalInputs(p, db) {
    const out = [];
    for (const [i, s] of p.config.sources.entries()) {
      out.push((await resolveSourceFiles(db, s, i, where(p))).map((f) => [f.hub ? `${f.hub.sha}/${f.hub.repoPath}` : f.path, f.identity]));
    }
    return out;
  },
  async run(ctx) {
    const { db, pipeline, dir, scratchDir, log } = ctx;
    const selects: string[] = [];
    const params: Record<string, DuckDBValue> = {};
    const notes: Record<string, Record<string, number | string | string[]>> = {};
    const sourceFiles: Record<string, HashedSourceFile[]> = {};
    const hubCommits: Record<string, string> = {};
    const filesOf: string[][] = [];
    for (const [i, source] of pipeline.config.sources.entries()) {
      const files = await resolveSourceFiles(db, source, i, where(pipeline));
      filesOf.push(files.map((f) => f.path));
      const hashed = [];
      // Hub files are recorded by their repo path: the cache location differs per machine.
      for (const f of files) hashed.push({ path: f.hub?.repoPath ?? f.path, ...(await sha256File(f.path)) });
      if (files[0]?.hub) hubCommits[source.name] = files[0].hub.sha;
      sourceFiles[source.name] = hashed;
      log.info('source.read', `  source ${source.name} (${source.type}): ${files.length} file(s)`, { source: source.name, files: files.length });
      const res = await sourceDefinition(source.type).adapter({ db, source, index: i, files, scratchDir });
      if (Object.keys(res.notes).length) notes[source.name] = res.notes;
      selects.push(`SELECT *, ${i} AS src_index FROM (${repairSelect(res.sql, repairOptions(source))})`);
      Object.assign(params, res.params);
    }
    const union = selects.join('\nUNION ALL\n');
    // A corpus bigger than DuckDB's memory spills to run_dir; say so before an hour's work
    // ends on a full disk.
    const need = await tempDiskNeed(db, filesOf.flat(), await duckdbMemoryLimitBytes(db));
    if (need.spillBytes > 0) {
      const fs = await statfs(scratchDir);
      const warning = tempDiskWarning(need, fs.bavail * fs.bsize, pipeline.config.run_dir);
      if (warning) log.warn('normalize.disk_low', warning, { source_bytes: need.sourceBytes, spill_bytes: need.spillBytes, free_bytes: fs.bavail * fs.bsize });
    }
    // The text is read twice from the sources and never held: once for a narrow table of keys
    // (ids, drop reasons, what the repairs changed; every count below comes from it), once
    // straight into data.parquet. A table of the whole text sat in DuckDB's memory and set the
    // stage's peak (3.9 GiB at 1M realistic conversations).
    const detecting = pipeline.config.sources.some((s) => s.language === DETECT);
    let dupCount = 0;
    let inOrder = false;
    try {
      await db.run(
        `CREATE OR REPLACE TEMP TABLE normalize_keys AS
         SELECT conversation_id, src_index, source, source_file, source_row, ord, drop_reason,
                user_key IS NULL AS no_user_key, ${REPAIRS.join(', ')}
         FROM (${union})`,
        params,
      );
      // A repeated id keeps its first row in source, file and row order; the others are
      // duplicate_id drops (a row the source dropped already keeps its own reason).
      await db.run(
        `CREATE OR REPLACE TEMP TABLE normalize_dups AS
         SELECT src_index, source_file, ord FROM (
           SELECT src_index, source_file, ord, drop_reason,
                  row_number() OVER (PARTITION BY conversation_id ORDER BY src_index, source_file, ord) AS dup_rank
           FROM normalize_keys)
         WHERE dup_rank > 1 AND drop_reason IS NULL`,
      );
      dupCount = toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM normalize_dups')).n);
      if (dupCount > 0) {
        await db.run(
          `UPDATE normalize_keys k SET drop_reason = 'duplicate_id' FROM normalize_dups d
           WHERE k.src_index = d.src_index AND k.source_file = d.source_file AND k.ord = d.ord`,
        );
      }
      // The sources' SELECT keeps their rows' order (a UNION ALL of single-table scans,
      // filters and projections: DuckDB preserves insertion order for these), and the keys
      // table was written in it. Where that order is already source, file and row order (files
      // listed in sorted order), the data is copied as it streams; otherwise it is sorted.
      const bad = await db.one<{ n: unknown }>(
        `SELECT count(*) AS n FROM (
           SELECT src_index, source_file, ord,
                  lag(src_index) OVER w AS p_src, lag(source_file) OVER w AS p_file, lag(ord) OVER w AS p_ord
           FROM normalize_keys WINDOW w AS (ORDER BY rowid))
         WHERE p_src > src_index OR (p_src = src_index AND (p_file > source_file OR (p_file = source_file AND p_ord >= ord)))`,
      );
      inOrder = toNumber(bad.n) === 0;
    } catch (e) {
      if (e instanceof UserlmError) throw e;
      throw sourceReadError(e, pipeline, filesOf);
    }
    for (const [i, source] of pipeline.config.sources.entries()) {
      const n = toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM normalize_keys WHERE src_index = $i', { i })).n);
      if (n === 0) log.warn('source.empty', `source ${source.name} yielded no conversations; check sources[${i}].files`, { source: source.name });
    }
    const detected: Record<string, DetectedLanguages> = {};
    for (const [i, source] of pipeline.config.sources.entries()) {
      if (source.language !== DETECT) continue;
      const d = (detected[source.name] = await labelLanguages(db, union, params, 'normalize_keys', i));
      const shown = Object.entries(d.labels).slice(0, 10).map(([l, n]) => `${l} ${n}`).join(', ') || 'none';
      log.info(
        'source.languages_detected',
        `  source ${source.name}: languages detected ${shown}${Object.keys(d.labels).length > 10 ? ', ...' : ''}` +
          (d.undetected ? `; ${d.undetected} with no language found (no label: the language filter drops them as language_unknown)` : ''),
        { source: source.name, ...d },
      );
    }
    const repairs: Record<string, Partial<Record<Repair, number>>> = {};
    for (const [i, source] of pipeline.config.sources.entries()) {
      const row = await db.one<Record<Repair, unknown>>(
        `SELECT ${REPAIRS.map((r) => `count(*) FILTER (WHERE ${r}) AS ${r}`).join(', ')} FROM normalize_keys WHERE src_index = $i AND drop_reason IS NULL`,
        { i },
      );
      const got = Object.fromEntries(REPAIRS.map((r) => [r, toNumber(row[r])]).filter(([, n]) => (n as number) > 0));
      if (Object.keys(got).length) {
        repairs[source.name] = got;
        log.info('source.repaired', `  source ${source.name}: repaired ${Object.entries(got).map(([k, n]) => `${n} ${k.replaceAll('_', ' ')}`).join(', ')}`, { source: source.name, repairs: got });
      }
    }
    const missing: NonNullable<NormalizeNotes['user_keys_missing']> = {};
    for (const [i, source] of pipeline.config.sources.entries()) {
      const row = await db.one<{ n: unknown; none: unknown }>(
        'SELECT count(*) AS n, count(*) FILTER (WHERE no_user_key) AS none FROM normalize_keys WHERE src_index = $i AND drop_reason IS NULL',
        { i },
      );
      const [n, none] = [toNumber(row.n), toNumber(row.none)];
      if (none === 0) continue;
      missing[source.name] = { conversations: n, without_user_key: none };
      // A source whose configuration has no user field was warned about before the run; this
      // one looked as if it had one (e.g. the first allenai/WildChat release has no hashed_ip).
      if (none === n && !source.split && sourceDefinition(source.type).userKey?.(source) !== null) {
        log.warn(
          'source.no_user_key',
          `sources[${i}] (${source.name}): none of its ${n} conversations has a user key (user_key: none), so its split is by conversation, not by user; ` +
            "one person's conversations may land in train and test.",
          { source: source.name },
        );
      }
    }
    const raw = toNumber((await db.one<{ n: unknown }>('SELECT count(*) AS n FROM normalize_keys')).n);
    const to = `TO ${sqlString(join(dir, DATA_FILE))} (${STAGE_PARQUET})`;
    try {
      if (inOrder && dupCount === 0 && !detecting) {
        // Nothing to join: the rows stream from the sources into the file in their order.
        await db.run(`COPY (SELECT ${CANONICAL_COLUMNS.join(', ')} FROM (${union}) WHERE drop_reason IS NULL) ${to}`, params);
      } else {
        // Repeated ids to leave out, detected labels to put in, or files not listed in sorted
        // order: joined and sorted (DuckDB sorts out of core, within its memory limit).
        log.info(
          'normalize.sorted_copy',
          `  normalize: sorting the kept conversations into source, file and row order (${[!inOrder && 'files not listed in sorted order', dupCount > 0 && `${dupCount} repeated ids`, detecting && 'detected languages'].filter(Boolean).join(', ')})`,
          { in_order: inOrder, duplicate_ids: dupCount, detecting },
        );
        const cols = CANONICAL_COLUMNS.map((c) => (c === 'language' && detecting ? `CASE WHEN l.src_index IS NOT NULL THEN l.language ELSE u.language END AS language` : `u.${c}`));
        await db.run(
          `COPY (SELECT ${cols.join(', ')} FROM (${union}) u
                 ${dupCount > 0 ? 'ANTI JOIN normalize_dups d ON d.src_index = u.src_index AND d.source_file = u.source_file AND d.ord = u.ord' : ''}
                 ${detecting ? `LEFT JOIN ${DETECTED_TABLE} l ON l.src_index = u.src_index AND l.source_file = u.source_file AND l.ord = u.ord` : ''}
                 WHERE u.drop_reason IS NULL
                 ORDER BY u.src_index, u.source_file, u.ord) ${to}`,
          params,
        );
      }
    } catch (e) {
      if (e instanceof UserlmError) throw e;
      throw sourceReadError(e, pipeline, filesOf);
    }
    await db.run(
      `COPY (SELECT conversation_id, drop_reason AS reason, source, source_file, source_row FROM normalize_keys
             WHERE drop_reason IS NOT NULL ORDER BY src_index, source_file, ord)
       TO ${sqlString(join(dir, DROPS_FILE))} (${STAGE_PARQUET})`,
    );
    await db.run('DROP TABLE normalize_keys');
    await db.run('DROP TABLE normalize_dups');
    await db.run(`DROP TABLE IF EXISTS ${DETECTED_TABLE}`);
    const out: NormalizeNotes = {
      sources: sourceFiles,
      ...(Object.keys(hubCommits).length ? { hub_commits: hubCommits } : {}),
      ...(Object.keys(notes).length ? { adapters: notes } : {}),
      ...(Object.keys(repairs).length ? { repairs } : {}),
      ...(Object.keys(detected).length ? { languages_detected: detected } : {}),
      ...(Object.keys(missing).length ? { user_keys_missing: missing } : {}),
    };
    return { conversationsIn: raw, notes: out };
  },
});
