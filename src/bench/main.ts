// `make bench`: every benchmark, printing its numbers. USERLM_BENCH_SIZES=100000 narrows the
// dedup sizes (comma-separated); USERLM_BENCH_ONLY=dedup,tokenize picks benchmarks.
import { availableParallelism } from 'node:os';
import { benchDedup } from './dedup-bench.js';
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
