import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { StageSpec } from '../core/stage.js';

/** One of n partitions of the conversations (0-based, as Slurm array and Kubernetes indices are). */
export interface Partition {
  index: number;
  count: number;
}

/** "i/n" as the CLI takes it, or a message saying what is wrong. */
export function parsePartition(text: string): Partition | string {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return `must be i/n, e.g. 0/4 (got ${JSON.stringify(text)})`;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 100000) return `n must be between 1 and 100000 (got ${count})`;
  if (index >= count) return `i must be below n: partitions of ${count} are 0/${count} to ${count - 1}/${count} (got ${index})`;
  return { index, count };
}

/**
 * The partition of a conversation: the first 8 bytes of md5(conversation_id) as a big-endian
 * unsigned integer, modulo n. A pure function of the id, so a conversation lands in the same
 * partition in every stage and on every machine.
 */
export function partitionOf(conversationId: string, count: number): number {
  return Number(createHash('md5').update(conversationId, 'utf8').digest().readBigUInt64BE(0) % BigInt(count));
}

/** partitionOf in DuckDB SQL over a column (bind $partition_count). */
export function partitionSql(column: string): string {
  return `CAST(('0x' || md5(coalesce(${column}, ''))[1:16]) AS UBIGINT) % $partition_count`;
}

const pad = (i: number) => String(i).padStart(5, '0');

/** Where one partitioning of a run keeps its tasks: <run_dir>/.partitions/n<count>/. */
export function partitionsRoot(runDir: string, count: number): string {
  return join(runDir, '.partitions', `n${count}`);
}

/** One task's output: <run_dir>/.partitions/n<count>/<stage>/<index>/ (with its own marker). */
export function taskDir(runDir: string, spec: Pick<StageSpec, 'name'>, p: Partition): string {
  return join(partitionsRoot(runDir, p.count), spec.name, pad(p.index));
}

/** A task's scratch area (its DuckDB temp files, its input slices). */
export function taskScratchDir(runDir: string, p: Partition): string {
  return join(partitionsRoot(runDir, p.count), '.scratch', pad(p.index));
}

export function taskName(p: Partition): string {
  return pad(p.index);
}

/** Contiguous runs as sbatch --array takes them: 0-3,5,7-8. */
export function arraySpec(indices: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < indices.length; i++) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    parts.push(i === j ? String(indices[i]) : `${indices[i]}-${indices[j]}`);
    i = j;
  }
  return parts.join(',');
}
