import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadPipeline } from '../config/load-pipeline.js';
import { Db, sqlList, toNumber } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { readMarker } from '../core/marker.js';
import { stageDir } from '../core/runner.js';
import { DEDUP_REPORT_FILE, NEAR_PAIRS_FILE, NEAR_PAIRS_KEPT, dedupStage } from '../stages/dedup/dedup-stage.js';
import { firstLine } from '../sources/read-parquet.js';

function clip(v: unknown, width: number): unknown {
  if (typeof v === 'string') return v.length > width ? `${v.slice(0, width)}... (${v.length} chars)` : v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.slice(0, 6).map((x) => clip(x, width)).concat(v.length > 6 ? [`... ${v.length - 6} more`] : []);
  if (v instanceof Date) return v.toISOString();
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clip(x, width)]));
  return v;
}

/** The finished dedup stage's directory of a run, found by its marker (not by a directory name). */
async function dedupStageDir(target: string): Promise<string> {
  let runDir = target;
  if (/\.ya?ml$/i.test(target)) runDir = (await loadPipeline(target)).config.run_dir;
  await readdir(runDir).catch(() => {
    throw new SourceError(`${runDir}: no such run directory; pass runs/<name> or the pipeline file, after \`userlm-data run\``);
  });
  const dir = stageDir(runDir, dedupStage);
  if (!(await readMarker(dir))) throw new SourceError(`${runDir} has no finished dedup stage yet; run the pipeline first (\`userlm-data run <pipeline.yaml>\`)`);
  return dir;
}

async function dedupReport(target: string): Promise<string> {
  const dir = await dedupStageDir(target);
  return readFile(join(dir, DEDUP_REPORT_FILE), 'utf8').catch(() => {
    throw new SourceError(`${dir} has no ${DEDUP_REPORT_FILE}; rerun the pipeline to regenerate it`);
  });
}

/** The n most similar pairs not merged and the n least similar merged, from near_pairs.parquet. */
async function nearMisses(target: string, n: number, width: number): Promise<string> {
  const dir = await dedupStageDir(target);
  const file = join(dir, NEAR_PAIRS_FILE);
  await stat(file).catch(() => {
    throw new SourceError(`${dir} has no ${NEAR_PAIRS_FILE} (near-dedup was off, or the run predates it); rerun the pipeline`);
  });
  const db = await Db.open({ threads: 1 });
  try {
    const rows = await db.all<{ kind: string; rank: number; similarity: number; a_id: string; b_id: string; a_text: string; b_text: string }>(
      `SELECT * FROM read_parquet(${sqlList([file])}) WHERE rank <= $n ORDER BY kind DESC, rank`,
      { n },
    );
    const L: string[] = [];
    const one = (t: string) => {
      const x = t.replace(/\s+/g, ' ').trim();
      return x.length > width ? `${x.slice(0, width)}...` : x;
    };
    for (const [kind, title] of [
      ['near_miss', `The ${n} most similar pairs that were not merged`],
      ['weakest_merge', `The ${n} least similar pairs that were merged`],
    ] as const) {
      const ps = rows.filter((r) => r.kind === kind);
      L.push(`${title} (${ps.length} found):`, '');
      for (const p of ps) L.push(`${p.similarity.toFixed(3)}  ${p.a_id}  ${p.b_id}`, `    ${one(p.a_text)}`, `    ${one(p.b_text)}`);
      L.push('');
    }
    return L.join('\n');
  } finally {
    db.close();
  }
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('Show a Parquet file (schema, row count, first rows), or with --dedup the largest near-duplicate clusters of a run.')
    .argument('<target>', 'a Parquet file (stage output or shard); with --dedup, a run directory or pipeline file')
    .option('-n, --rows <n>', 'rows to show', '3')
    .option('--width <chars>', 'clip strings to this many characters', '120')
    .option('--dedup', "print the run's dedup report: largest clusters with sample texts and similarity", false)
    .option('--near-misses <n>', `with --dedup: the n most similar pairs not merged and the n least similar merged, with their texts (at most ${NEAR_PAIRS_KEPT})`)
    .option('--json', 'print as JSON', false)
    .action(async (file: string, opts: { rows: string; width: string; json: boolean; dedup: boolean; nearMisses?: string }) => {
      if (opts.nearMisses !== undefined) {
        const k = Number(opts.nearMisses);
        if (!opts.dedup) throw new SourceError('--near-misses goes with --dedup: userlm-data inspect --dedup <run dir> --near-misses N');
        if (!Number.isInteger(k) || k < 1 || k > NEAR_PAIRS_KEPT) throw new SourceError(`--near-misses must be a whole number from 1 to ${NEAR_PAIRS_KEPT} (got ${opts.nearMisses})`);
        process.stdout.write(await nearMisses(file, k, Number(opts.width)));
        return;
      }
      if (opts.dedup) {
        process.stdout.write(await dedupReport(file));
        return;
      }
      const n = Number(opts.rows);
      const width = Number(opts.width);
      if (!Number.isInteger(n) || n < 0) throw new SourceError(`--rows must be a whole number (got ${opts.rows})`);
      await stat(file).catch(() => {
        throw new SourceError(`${file}: no such file`);
      });
      const db = await Db.open({ threads: 1 });
      try {
        let schema, count, rows;
        try {
          schema = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${sqlList([file])})`);
          count = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlList([file])})`)).n);
          rows = await db.all(`SELECT * FROM read_parquet(${sqlList([file])}) LIMIT ${n}`);
        } catch (e) {
          throw new SourceError(`${file} is not a readable Parquet file: ${firstLine(e)}`);
        }
        const shown = rows.map((r) => clip(r, width));
        if (opts.json) {
          process.stdout.write(JSON.stringify({ file, rows: count, schema: schema.map((c) => ({ name: c.column_name, type: c.column_type })), head: shown }, null, 2) + '\n');
          return;
        }
        process.stdout.write(`${file}: ${count} rows\n\nschema:\n`);
        for (const c of schema) process.stdout.write(`  ${c.column_name}: ${c.column_type}\n`);
        process.stdout.write(`\nfirst ${shown.length} row(s):\n`);
        for (const r of shown) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      } finally {
        db.close();
      }
    });
}
