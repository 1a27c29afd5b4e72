import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parsePipeline } from '../../src/config/load-pipeline.js';
import { sqlList, sqlString, toNumber } from '../../src/core/db.js';
import { sha256Hex } from '../../src/core/hash.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset, STAGES, type BuildResult } from '../../src/stages/recipe.js';
import { ROOT, runCli, samplePipelineYaml, SAMPLE_PRISM, SAMPLE_WILDCHAT, tempDir, withDb, writePipeline } from '../helpers.js';
import { resultOf } from '../../src/core/runner.js';
import { splitStage } from '../../src/stages/split/split-stage.js';


function shardHashes(outDir: string): Record<string, string> {
  const data = join(outDir, 'data');
  return Object.fromEntries(readdirSync(data).sort().map((f) => [f, sha256Hex(readFileSync(join(data, f)))]));
}

describe('the bundled sample, end to end', () => {
  const dir = tempDir();
  const { pipeline } = writePipeline(dir, samplePipelineYaml(dir));
  let first: BuildResult;
  let firstShards: Record<string, string>;

  before(async () => {
    first = await buildDataset(pipeline(), silentLogger);
    firstShards = shardHashes(join(dir, 'out'));
  });

  it('matches pipelines/sample.yaml in everything but its directories', () => {
    const shipped = parsePipeline(readFileSync(join(ROOT, 'pipelines', 'sample.yaml'), 'utf8'), 'sample.yaml').config;
    const ours = pipeline().config;
    assert.deepEqual(ours.stages, shipped.stages);
    assert.equal(ours.seed, shipped.seed);
    assert.deepEqual(ours.sources.map((s) => [s.name, s.type, s.split ?? null]), shipped.sources.map((s) => [s.name, s.type, s.split ?? null]));
  });

  it('accounts for every input conversation in every stage', async () => {
    await withDb(async (db) => {
      const wildchat = toNumber((await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM read_parquet(${sqlString(SAMPLE_WILDCHAT)})`)).n);
      const prism = readFileSync(SAMPLE_PRISM, 'utf8').split('\n').filter((l) => l.trim()).length;
      assert.equal(first.markers[0]!.conversations_in, wildchat + prism);
      const dropped = new Set<string>();
      for (const [i, m] of first.markers.entries()) {
        const stageDir = join(dir, 'runs', STAGES[i]!.name);
        const total = Object.values(m.drops).reduce((a, b) => a + b, 0);
        assert.equal(m.conversations_in, m.conversations_out + total, `${m.stage}: in = out + drops`);
        if (i > 0) assert.equal(m.conversations_in, first.markers[i - 1]!.conversations_out, `${m.stage} reads what ${first.markers[i - 1]!.stage} wrote`);
        if (readdirSync(stageDir).includes('drops.parquet')) {
          const ids = await db.all<{ conversation_id: string }>(`SELECT conversation_id FROM read_parquet(${sqlString(join(stageDir, 'drops.parquet'))})`);
          assert.equal(ids.length, total);
          for (const r of ids) dropped.add(`${r.conversation_id}@${m.stage}`);
        }
      }
      const shards = readdirSync(join(dir, 'out', 'data')).map((f) => join(dir, 'out', 'data', f));
      const kept = toNumber((await db.one<{ n: unknown }>(`SELECT count(DISTINCT conversation_id) AS n FROM read_parquet(${sqlList(shards)})`)).n);
      assert.equal(kept + dropped.size, wildchat + prism, 'kept + dropped = every input conversation');
    });
  });

  it('exercises every filter branch and both split kinds', () => {
    const byStage = Object.fromEntries(first.markers.map((m) => [m.stage, m]));
    for (const reason of ['language', 'toxic', 'redacted', 'empty_user_turn', 'turn_too_long', 'starts_with_assistant', 'ends_with_user', 'consecutive_roles']) {
      assert.ok((byStage['filter']!.drops[reason] ?? 0) > 0, `filter reason ${reason} seen`);
    }
    // datasets/sample/README.md: six planted exact duplicates, five differing in case or whitespace.
    assert.equal(byStage['dedup']!.drops['exact_duplicate'], 6);
    assert.ok((byStage['normalize']!.drops['prism_no_chosen_answer'] ?? 0) > 0);
    const splits = resultOf(first, splitStage).notes.splits;
    assert.deepEqual(Object.keys(splits).sort(), ['test', 'test_ood', 'train', 'validation']);
  });

  it('skips every stage on a rerun and leaves the shards as they were', async () => {
    const again = await buildDataset(pipeline(), silentLogger);
    assert.deepEqual(again.executed, []);
    assert.equal(again.skipped.length, STAGES.length);
    assert.equal(again.exported, 'unchanged');
    assert.deepEqual(shardHashes(join(dir, 'out')), firstShards);
  });

  it('reruns a deleted stage and every stage after it, with the same result', async () => {
    rmSync(join(dir, 'runs', 'dedup'), { recursive: true });
    const r = await buildDataset(pipeline(), silentLogger);
    assert.deepEqual(r.skipped, ['normalize', 'filter']);
    assert.deepEqual(r.executed, ['dedup', 'intents', 'flip', 'tokenize', 'split', 'shards']);
    assert.deepEqual(shardHashes(join(dir, 'out')), firstShards);
  });

  it('reruns from the stage whose options changed', async () => {
    const d2 = tempDir();
    const base = samplePipelineYaml(d2);
    const { pipeline: p1 } = writePipeline(d2, base);
    await buildDataset(p1(), silentLogger);
    const { pipeline: p2 } = writePipeline(d2, `${base}stages:\n  filter:\n    max_chars_per_turn: 500\n`, 'changed.yaml');
    const r = await buildDataset(p2(), silentLogger);
    assert.deepEqual(r.skipped, ['normalize']);
    assert.equal(r.executed[0], 'filter');
    assert.ok((r.markers[1]!.drops['turn_too_long'] ?? 0) > (first.markers[1]!.drops['turn_too_long'] ?? 0));
  });

  it('gives byte-identical shards and manifest statistics from two fresh runs', async () => {
    const d2 = tempDir();
    const { pipeline: p2 } = writePipeline(d2, samplePipelineYaml(d2));
    await buildDataset(p2(), silentLogger);
    assert.deepEqual(shardHashes(join(d2, 'out')), firstShards);
    const m1 = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    const m2 = JSON.parse(readFileSync(join(d2, 'out', 'manifest.json'), 'utf8'));
    assert.deepEqual(m2.files, m1.files);
    assert.deepEqual(m2.stages, m1.stages);
    assert.deepEqual(m2.splits, m1.splits);
  });

  it('publishes shards DuckDB can glob, with the schema the card documents', async () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'sample.schema.json'), 'utf8'));
    const card = readFileSync(join(dir, 'out', 'README.md'), 'utf8');
    const front = parseYaml(card.split(/^---$/m)[1]!);
    await withDb(async (db) => {
      const cols = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${sqlString(join(dir, 'out', 'data', 'train-*.parquet'))}`);
      // One copy of the context: the optional chat column is off by default.
      assert.deepEqual(cols.map((c) => c.column_name), schema.required);
      assert.deepEqual(front.dataset_info.features.map((f: { name: string }) => f.name), schema.required);
      // datasets reads the features from the Parquet schema's huggingface metadata.
      const kv = await db.all<{ key: string; value: string }>(
        `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${sqlString(join(dir, 'out', 'data', 'train-00000-of-00001.parquet'))})`,
      );
      const hf = JSON.parse(kv.find((k) => k.key === 'huggingface')!.value);
      assert.deepEqual(Object.keys(hf.info.features), schema.required);
      assert.deepEqual(hf.info.features.messages, { feature: { role: { dtype: 'string', _type: 'Value' }, content: { dtype: 'string', _type: 'Value' } }, _type: 'List' });
      assert.deepEqual(hf.info.features.turn_index, { dtype: 'int32', _type: 'Value' });
      const types = Object.fromEntries(cols.map((c) => [c.column_name, c.column_type]));
      assert.equal(types['messages'], 'STRUCT("role" VARCHAR, "content" VARCHAR)[]');
      assert.equal(types['turn_index'], 'INTEGER');
      const n = await db.one<{ n: unknown }>(`SELECT count(*) AS n FROM ${sqlString(join(dir, 'out', 'data', 'train-*.parquet'))}`);
      const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
      assert.equal(toNumber(n.n), manifest.splits.train.samples);
      for (const f of manifest.files) {
        assert.equal(sha256Hex(readFileSync(join(dir, 'out', f.path))), f.sha256);
      }
      const splitsInCard = front.configs[0].data_files.map((d: { split: string }) => d.split);
      assert.deepEqual(splitsInCard, ['train', 'validation', 'test', 'test_ood']);
      assert.equal(front.license, 'cc0-1.0');
      assert.deepEqual(front.annotations_creators, ['machine-generated']);
      // num_bytes: uncompressed data per split (more than the zstd files); download_size: the files.
      for (const sp of front.dataset_info.splits) {
        assert.equal(sp.num_bytes, manifest.splits[sp.name].num_bytes);
        assert.ok(sp.num_bytes > manifest.splits[sp.name].bytes);
      }
      assert.equal(front.dataset_info.dataset_size, front.dataset_info.splits.reduce((a: number, sp: { num_bytes: number }) => a + sp.num_bytes, 0));
      assert.equal(front.dataset_info.download_size, manifest.files.reduce((a: number, f: { bytes: number }) => a + f.bytes, 0));
      assert.match(card, /Training format \(`userlm-8b`, microsoft\/UserLM-8b's own chat template/);
      assert.match(card, /tokenizer\.add_tokens\(\[AddedToken\("<\|endconversation\|>"/);
      assert.match(card, /type: userlm_axolotl\.chat/);
      assert.match(card, /\| filter \| \d+ \| \d+ \| - \| .*language: \d+/);
    });
  });

  it('counts held-out conversations that leak from train, and drops them when told to', async () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'out', 'manifest.json'), 'utf8'));
    const leaked = Object.values(manifest.leaks.by_split as Record<string, number>).reduce((a, b) => a + b, 0);
    assert.ok(leaked > 0, 'the sample plants near-duplicate prompts across users');
    assert.match(readFileSync(join(dir, 'out', 'README.md'), 'utf8'), /## Leakage check\n\nHeld-out conversations .* validation \d+/);
    await withDb(async (db) => {
      const rows = await db.all<{ split: string; train_split: string; similarity: number }>(
        `SELECT l.split, t.split AS train_split, l.similarity
         FROM read_parquet(${sqlString(join(dir, 'runs', 'split', 'leaks.parquet'))}) l
         JOIN (SELECT DISTINCT conversation_id, split FROM read_parquet(${sqlString(join(dir, 'runs', 'split', 'data.parquet'))})) t
           ON t.conversation_id = l.train_conversation_id`,
      );
      assert.equal(rows.length, leaked);
      for (const r of rows) {
        assert.notEqual(r.split, 'train');
        assert.equal(r.train_split, 'train');
        assert.ok(r.similarity >= 0.5);
      }
    });
    const d2 = tempDir();
    const { pipeline: p2 } = writePipeline(d2, `${samplePipelineYaml(d2)}stages:\n  split:\n    drop_leaks: true\n`);
    const r = await buildDataset(p2(), silentLogger);
    const split = r.markers.find((m) => m.stage === 'split')!;
    assert.deepEqual(split.drops, { split_leak: leaked });
    const m2 = JSON.parse(readFileSync(join(d2, 'out', 'manifest.json'), 'utf8'));
    assert.equal(m2.leaks.dropped, true);
    assert.equal(m2.splits.validation.conversations, manifest.splits.validation.conversations - (manifest.leaks.by_split.validation ?? 0));
  });

  it('plan reports every stage done, and inspect shows a shard', () => {
    const file = join(dir, 'pipeline.yaml');
    const plan = runCli(['plan', file, '--json']);
    assert.equal(plan.status, 0, plan.stderr);
    const parsed = JSON.parse(plan.stdout);
    assert.deepEqual(parsed.stages.map((s: { status: string }) => s.status), STAGES.map(() => 'done'));
    const shard = readdirSync(join(dir, 'out', 'data')).find((f) => f.startsWith('train-'))!;
    const ins = runCli(['inspect', join(dir, 'out', 'data', shard), '--json', '-n', '2']);
    assert.equal(ins.status, 0, ins.stderr);
    const info = JSON.parse(ins.stdout);
    assert.equal(info.head.length, 2);
    assert.ok(info.rows > 0);
    const report = runCli(['inspect', '--dedup', join(dir, 'runs')]);
    assert.equal(report.status, 0, report.stderr);
    assert.match(report.stdout, /^# Dedup report\n/);
    assert.match(report.stdout, /- exact duplicates dropped: 6\n/);
    assert.match(report.stdout, /## The \d+ largest clusters/);
    assert.equal(runCli(['inspect', '--dedup', file]).stdout, report.stdout);
    const none = runCli(['inspect', '--dedup', join(dir, 'nowhere')]);
    assert.equal(none.status, 3);
    assert.match(none.stderr, /no such run directory/);
  });
});
