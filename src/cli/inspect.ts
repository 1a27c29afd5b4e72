import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadPipeline } from '../config/load-pipeline.js';
import { Db, sqlList, toNumber } from '../core/db.js';
import { SourceError } from '../core/errors.js';
import { firstLine } from '../sources/read-parquet.js';
import { readMarker } from '../core/marker.js';
import { stageDir } from '../core/runner.js';
import { DEDUP_REPORT_FILE, dedupStage } from '../stages/dedup/dedup-stage.js';

function clip(v: unknown, width: number): unknown {
  if (typeof v === 'string') return v.length > width ? `${v.slice(0, width)}... (${v.length} chars)` : v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.slice(0, 6).map((x) => clip(x, width)).concat(v.length > 6 ? [`... ${v.length - 6} more`] : []);
  if (v instanceof Date) return v.toISOString();
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clip(x, width)]));
  return v;
}

/** The dedup stage's report of a run, given the run directory or its pipeline file. */
async function dedupReport(target: string): Promise<string> {
  let runDir = target;
  if (/\.ya?ml$/i.test(target)) runDir = (await loadPipeline(target)).config.run_dir;
  await readdir(runDir).catch(() => {
    throw new SourceError(`${runDir}: no such run directory; pass runs/<name> or the pipeline file, after \`userlm-data run\``);
  });
  const dir = stageDir(runDir, dedupStage);
  if (!(await readMarker(dir))) throw new SourceError(`${runDir} has no finished dedup stage yet; run the pipeline first (\`userlm-data run <pipeline.yaml>\`)`);
  return readFile(join(dir, DEDUP_REPORT_FILE), 'utf8').catch(() => {
    throw new SourceError(`${dir} has no dedup_report.md; rerun the pipeline to regenerate it`);
  });
}

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('Show a Parquet file (schema, row count, first rows), or with --dedup the largest near-duplicate clusters of a run.')
    .argument('<target>', 'a Parquet file (stage output or shard); with --dedup, a run directory or pipeline file')
    .option('-n, --rows <n>', 'rows to show', '3')
    .option('--width <chars>', 'clip strings to this many characters', '120')
    .option('--dedup', "print the run's dedup report: largest clusters with sample texts and similarity", false)
    .option('--json', 'print as JSON', false)
    .action(async (file: string, opts: { rows: string; width: string; json: boolean; dedup: boolean }) => {
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
