// `make bench`: every benchmark, printing its numbers. Sizes can be narrowed with
// USERLM_BENCH_SIZES=100000 (comma-separated).
import { benchDedup } from './dedup-bench.js';

const sizes = process.env['USERLM_BENCH_SIZES']?.split(',').map(Number) ?? [100_000, 1_000_000];
process.stdout.write(`userlm-data benchmarks on ${(await import('node:os')).availableParallelism()} cores, Node ${process.version}\n`);
await benchDedup(sizes);
