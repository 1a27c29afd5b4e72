// `make bench`: every benchmark, printing its numbers. USERLM_BENCH_SIZES=100000 narrows the
// dedup sizes (comma-separated); USERLM_BENCH_ONLY=dedup,tokenize,report,intents,pipeline picks
// benchmarks; USERLM_BENCH_REPORT_SIZE sets the report benchmark's run size (default 1M
// conversations); USERLM_BENCH_PIPELINE_SIZES the whole-pipeline sizes (default 1M,3M), and
// USERLM_BENCH_KEEP_RUN=1 keeps their run directories (for rerunning one stage on them).
// Generated corpora are cached under USERLM_BENCH_DIR (default runs/bench).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchDedup } from './dedup-bench.js';
import { benchPipeline } from './pipeline-bench.js';
import { benchReport } from './report-bench.js';
import { benchTokenize } from './tokenize-bench.js';

const sizes = process.env['USERLM_BENCH_SIZES']?.split(',').map(Number) ?? [100_000, 1_000_000];
const only = process.env['USERLM_BENCH_ONLY']?.split(',');
const want = (name: string) => !only || only.includes(name);
process.stdout.write(`userlm-data benchmarks on ${availableParallelism()} cores, Node ${process.version}\n`);
if (want('dedup')) await benchDedup(sizes);
if (want('tokenize')) {
  process.stdout.write('\n== tokenization ==\n');
  await benchTokenize();
}
if (want('report')) {
  process.stdout.write('\n== run report ==\n');
  await benchReport(Number(process.env['USERLM_BENCH_REPORT_SIZE'] ?? 1_000_000));
}
if (want('intents')) {
  process.stdout.write('\n== LLM intents against a local OpenAI-compatible server ==\n');
  // Its own process: it restarts itself with the young-generation size a high-throughput
  // client should use, and runs its server in another process.
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('./intents-bench.js', import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = r.status ?? 1;
}
if (want('pipeline')) {
  process.stdout.write('\n== whole pipeline on the realistic corpus vs the DuckDB floor ==\n');
  const pipelineSizes = process.env['USERLM_BENCH_PIPELINE_SIZES']?.split(',').map(Number) ?? [1_000_000, 3_000_000];
  await benchPipeline(pipelineSizes, process.env['USERLM_BENCH_DIR'] ?? 'runs/bench');
}
