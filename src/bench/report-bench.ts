import { join } from 'node:path';
import { Db, sqlList } from '../core/db.js';
import { stageDir } from '../core/runner.js';
import { writeReport } from '../report/write-report.js';
import { REPORT_BENCH_STAGES, reportBenchRun } from './report-bench-run.js';

const BENCH_DIR = process.env['USERLM_BENCH_DIR'] ?? 'runs/bench';
const rssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/**
 * The DuckDB floor: one scan of the columns the report aggregates, each file read once, with
 * nothing grouped. The report cannot be faster than this on the same files.
 */
async function duckdbFloor(db: Db, runDir: string): Promise<number> {
  const f = (stage: string, file: string) => sqlList([join(stageDir(runDir, { name: stage }), file)]);
  const scans = [
    `SELECT max(conversation_id), max(source), max(language), max(country) FROM read_parquet(${f('normalize', 'data.parquet')})`,
    `SELECT max(conversation_id), max(cluster_id), max(cluster_size) FROM read_parquet(${f('dedup', 'clusters.parquet')})`,
    `SELECT max(conversation_id), max(intent_backend) FROM read_parquet(${f('intents', 'data.parquet')})`,
    `SELECT max(conversation_id), max(split), max(kind), max(num_tokens), max(num_target_tokens), max(num_user_turns), max(language), max(country) FROM read_parquet(${f('shards', 'data/*.parquet')})`,
  ];
  const t = performance.now();
  for (const s of scans) await db.all(s);
  return (performance.now() - t) / 1000;
}

/** Time to build the report of an n-conversation run, and its size (targets: < 10 s and < 5 MB at 1M). */
export async function benchReport(n: number): Promise<void> {
  const db = await Db.open({});
  let runDir: string;
  let floor: number;
  try {
    const t = performance.now();
    const run = await reportBenchRun(db, BENCH_DIR, n);
    runDir = run.runDir;
    process.stdout.write(
      run.cached
        ? `using the cached ${n.toLocaleString('en-US')}-conversation run in ${runDir}\n`
        : `generated a ${n.toLocaleString('en-US')}-conversation run in ${((performance.now() - t) / 1000).toFixed(1)}s (cached in ${runDir})\n`,
    );
    floor = await duckdbFloor(db, runDir);
  } finally {
    db.close();
  }
  const rss0 = rssMb();
  const t = performance.now();
  const r = await writeReport({ runDir, stages: REPORT_BENCH_STAGES, fractions: { train: 0.9, validation: 0.05, test: 0.05 } });
  const secs = (performance.now() - t) / 1000;
  const mb = r.bytes / 1e6;
  process.stdout.write(
    `report of ${n.toLocaleString('en-US')} conversations: ${secs.toFixed(2)}s (target < 10 s: ${secs < 10 ? 'ok' : 'MISSED'}; DuckDB floor, one scan of the same files: ${floor.toFixed(2)}s), ` +
      `${mb.toFixed(2)} MB (target < 5 MB: ${mb < 5 ? 'ok' : 'MISSED'}), peak RSS ${rssMb()} MB (${rss0} MB before the report, generator included)\n`,
  );
}
