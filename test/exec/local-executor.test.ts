import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { listValue } from '@duckdb/node-api';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readMarker } from '../../src/core/marker.js';
import { sqlString, toNumber } from '../../src/core/db.js';
import { arraySpec, parsePartition, partitionOf, partitionSql, partitionsRoot } from '../../src/exec/partition.js';
import { runCliAsync, tempDir, withDb, writePipeline } from '../helpers.js';
import { differingFiles, shardedSampleYaml, singleRunAside } from './compare-runs.js';

/** JSON log events of a --json run (the log is on stderr). */
function events(stderr: string): Record<string, unknown>[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Notes without what a clock decides (seconds_*, rates). */
function withoutTimings(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutTimings);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !/^seconds|_per_s$/.test(k)).map(([k, x]) => [k, withoutTimings(x)]));
}

const MAP_STAGES = ['filter', 'intents', 'flip', 'tokenize'];

describe('run --executor local: n = 4 partitions', () => {
  const dir = tempDir('userlm-exec-');
  const { file } = writePipeline(dir, shardedSampleYaml(dir));
  let single = { runDir: '', outDir: '' };
  const sharded = { runDir: join(dir, 'runs'), outDir: join(dir, 'out') };
  let shardedRun: Awaited<ReturnType<typeof runCliAsync>>;

  before(async () => {
    // One pipeline file for both runs, so that the manifest and card name the same file.
    single = await singleRunAside(dir, file);
    shardedRun = await runCliAsync(['run', file, '--executor', 'local', '--shards', '4', '--json']);
    assert.equal(shardedRun.status, 0, shardedRun.stderr);
  });

  it('writes out_dir and every stage file byte for byte as a single run does', () => {
    assert.deepEqual(differingFiles(single, sharded), []);
    assert.ok(existsSync(join(sharded.outDir, 'data', 'train-00000-of-00001.parquet')));
  });

  it('ran each map stage on four partitions, with a marker per task, that together hold every conversation once', async () => {
    for (const stage of MAP_STAGES) {
      let total = 0;
      const ids = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const taskDir = join(partitionsRoot(sharded.runDir, 4), stage, String(i).padStart(5, '0'));
        const m = (await readMarker(taskDir)) as (Awaited<ReturnType<typeof readMarker>> & { partition: { index: number; count: number } }) | null;
        assert.ok(m, `${stage} partition ${i} has a marker`);
        assert.deepEqual(m.partition, { index: i, count: 4 });
        total += m.conversations_out;
        await withDb(async (db) => {
          for (const r of await db.all<{ id: string }>(`SELECT DISTINCT conversation_id AS id FROM read_parquet(${sqlString(join(taskDir, 'data.parquet'))})`)) {
            assert.equal(partitionOf(r.id, 4), i, `${r.id} belongs to partition ${partitionOf(r.id, 4)}, found in ${i}`);
            assert.ok(!ids.has(r.id));
            ids.add(r.id);
          }
        });
      }
      const whole = await readMarker(join(sharded.runDir, stage));
      assert.equal(total, whole!.conversations_out, `${stage}: partitions add up to the whole`);
    }
  });

  it('merges the partitions into markers with the counts and notes of a single run', async () => {
    for (const stage of ['normalize', 'filter', 'dedup', 'intents', 'flip', 'tokenize', 'split', 'shards']) {
      const a = (await readMarker(join(single.runDir, stage)))!;
      const b = (await readMarker(join(sharded.runDir, stage)))!;
      assert.deepEqual([b.conversations_in, b.conversations_out, b.samples_out, b.drops, b.sample_drops], [a.conversations_in, a.conversations_out, a.samples_out, a.drops, a.sample_drops], stage);
      assert.deepEqual(withoutTimings(b.notes), withoutTimings(a.notes), stage);
    }
  });

  it('a rerun with the same n skips every finished task and redoes only a lost one', async () => {
    // As after a task killed before the merge: partition 2 of flip is gone, flip is not merged.
    rmSync(join(partitionsRoot(sharded.runDir, 4), 'flip', '00002'), { recursive: true });
    rmSync(join(sharded.runDir, 'flip'), { recursive: true });
    const r = await runCliAsync(['run', file, '--executor', 'local', '--shards', '4', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const started = events(r.stderr).filter((e) => e['event'] === 'stage.start');
    assert.deepEqual(
      started.filter((e) => e['index'] !== undefined).map((e) => [e['stage'], e['index']]),
      [['flip', 2], ['tokenize', 2]],
      'partition 2 of flip (lost) and of tokenize (its input changed) rerun; no other task',
    );
    assert.deepEqual(started.filter((e) => e['index'] === undefined).map((e) => e['stage']), ['flip', 'tokenize', 'split', 'shards']);
    assert.deepEqual(differingFiles(single, sharded), []);
    // A plain run over the same run directory finds every stage done.
    const plain = await runCliAsync(['run', file, '--json']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(events(plain.stderr).filter((e) => e['event'] === 'stage.start').length, 0);
  });
});

describe('run --shard and --reduce by hand', () => {
  it('a partition stops before a reduce step, and a reduce step names the partitions it waits for', async () => {
    const dir = tempDir('userlm-exec-');
    const { file } = writePipeline(dir, shardedSampleYaml(dir));
    const step = async (args: string[]) => {
      const r = await runCliAsync(['run', file, ...args, '--json']);
      assert.equal(r.status, 0, r.stderr);
      return events(r.stderr);
    };
    const first = await step(['--shard', '1/2']);
    assert.deepEqual(first.find((e) => e['event'] === 'run.partition_done')!['stoppedBefore'], 'normalize');
    const red = await step(['--reduce', '2']);
    assert.deepEqual(red.find((e) => e['event'] === 'run.waiting')!['partitions'], [0, 1]);
    await step(['--shard', '1/2']);
    const again = await step(['--reduce', '2']);
    const waiting = again.find((e) => e['event'] === 'run.waiting')!;
    assert.deepEqual([waiting['stage'], waiting['partitions']], ['filter', [0]]);
    assert.equal(existsSync(join(dir, 'out')), false, 'nothing is published before the last step');
  });
});

describe('--shard, --reduce and --executor flags', () => {
  const dir = tempDir('userlm-exec-');
  const { file } = writePipeline(dir, shardedSampleYaml(dir));
  const cases: [string[], RegExp][] = [
    [['--shard', '4/4'], /i must be below n/],
    [['--shard', '1-4'], /must be i\/n/],
    [['--shard', '0/0'], /n must be between 1/],
    [['--executor', 'local'], /--executor needs --shards/],
    [['--shards', '4'], /--shards <n> goes with --executor/],
    [['--executor', 'pbs', '--shards', '2'], /Allowed choices are local, slurm, k8s/],
    [['--shard', '0/2', '--reduce', '2'], /cannot be used with option/],
    [['--executor', 'local', '--shards', '2', '--wait'], /--wait and --sbatch-arg go with --executor slurm/],
    [['--executor', 'k8s', '--shards', '2'], /--executor k8s needs --k8s-claim/],
    [['--reduce', 'x'], /must be a whole number/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')}: usage error, exit 2`, async () => {
      const r = await runCliAsync(['run', file, ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(existsSync(join(dir, 'runs')), false);
    });
  }
});

describe('the partition of a conversation', () => {
  it('is the same in TypeScript and in DuckDB SQL, and spreads ids over every partition', async () => {
    const ids = [...Array.from({ length: 500 }, (_, i) => `wildchat:${i * 7919}`), '', 'prism:c1', 'ünï©ødé 会話'];
    await withDb(async (db) => {
      for (const n of [1, 3, 4, 16]) {
        const rows = await db.all<{ id: string; p: unknown }>(
          `SELECT id, ${partitionSql('id')} AS p FROM (SELECT unnest($ids) AS id)`,
          { ids: listValue(ids), partition_count: n },
        );
        for (const r of rows) assert.equal(toNumber(r.p), partitionOf(r.id, n), `${r.id} of ${n}`);
        const used = new Set(rows.map((r) => toNumber(r.p)));
        assert.equal(used.size, n);
      }
    });
    // Pinned: a change of hash would move the conversations of a half-finished run to other partitions.
    assert.deepEqual([partitionOf('abc', 7), partitionOf('wildchat:0', 4), partitionOf('prism:c1', 4), partitionOf('ünï©ødé 会話', 16)], [0, 1, 2, 6]);
  });
});

describe('partition lists', () => {
  it('are written as sbatch --array ranges, and i/n is parsed 0-based', () => {
    assert.equal(arraySpec([0, 2, 3, 4, 7]), '0,2-4,7');
    assert.equal(arraySpec([5]), '5');
    assert.equal(arraySpec([0, 1, 2, 3]), '0-3');
    assert.deepEqual(parsePartition('3/4'), { index: 3, count: 4 });
    assert.match(String(parsePartition('4/4')), /i must be below n/);
  });
});
