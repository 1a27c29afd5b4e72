import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { buildDataset } from '../../src/stages/recipe.js';
import { ROOT, REALDATA, runCli, tempDir, writePipeline } from '../helpers.js';

const FIX = join(ROOT, 'test', 'fixtures', 'corpora');
const head = (dir: string) => `name: g\nrun_dir: ${join(dir, 'runs')}\nout_dir: ${join(dir, 'out')}\n`;

describe('no silent loss', () => {
  it('the older allenai/WildChat JSON lines run through every stage (typed NULLs for its missing columns) and the run ends with a per-source funnel', () => {
    const dir = tempDir();
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: w, type: wildchat, files: [${join(FIX, 'allenai-wildchat-v1.jsonl')}], license: cc0-1.0}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /source w: 4 in, 2 kept; dropped language 1 \(filter\), toxic 1 \(filter\)/);
    assert.ok(existsSync(join(dir, 'out', 'manifest.json')));
  });

  it('a source none of whose labels match the filter stops before any stage runs, listing its labels', () => {
    const dir = tempDir();
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: w, type: wildchat, files: [${join(FIX, 'allenai-wildchat-v1.jsonl')}]}\nstages: {filter: {languages: [de]}}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /sources\[0\] \(w\) has no conversation in stages\.filter\.languages \[de\]; its language labels: English 3, Spanish 1\./);
    assert.ok(!existsSync(join(dir, 'runs', 'normalize')), 'no stage ran');
  });

  it('ISO codes in languages: match the names a corpus uses', () => {
    const dir = tempDir();
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: w, type: wildchat, files: [${join(FIX, 'allenai-wildchat-v1.jsonl')}], license: cc0-1.0}\nstages: {filter: {languages: [eng]}}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /source w: 4 in, 2 kept/);
  });

  it('a stage that keeps nothing fails with exit 3, naming the stage and its reasons', () => {
    const dir = tempDir();
    const f = join(dir, 'chunks.jsonl');
    writeFileSync(f, [1, 2].map((i) => JSON.stringify({ messages: [{ role: 'assistant', content: `a${i}` }, { role: 'user', content: `q${i}` }, { role: 'assistant', content: 'r' }] })).join('\n'));
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: c, type: generic, preset: openai, files: [${f}], language: English}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /stage filter kept no conversation of 2: starts_with_assistant 2 \(e\.g\. c:chunks\.jsonl#0, c:chunks\.jsonl#1\)/);
    assert.ok(!existsSync(join(dir, 'out')), 'no dataset written');
  });

  it('max_drop_fraction stops a stage that drops more, with the top reasons and example ids', () => {
    const dir = tempDir();
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: w, type: wildchat, files: [${join(REALDATA, 'wildchat-1m-sample50.parquet')}]}\nstages: {filter: {max_drop_fraction: 0.2}}\n`);
    const r = runCli(['run', file]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /stage filter dropped (\d+) of 50 conversations \([\d.]+%\), more than max_drop_fraction 0\.2: language 19 \(e\.g\. w:[^,]+, w:[^,]+, w:[^)]+\)/);
    assert.match(r.stderr, /raise stages\.filter\.max_drop_fraction/);
  });

  it("WildChat's heavy non-English filter passes with the paper pipeline's settings and the default guard", async () => {
    const dir = tempDir();
    const { pipeline } = writePipeline(
      dir,
      `${head(dir)}sources:\n  - {name: wildchat, type: wildchat, files: [${join(REALDATA, 'wildchat-1m-sample50.parquet')}], license: odc-by}
stages:
  filter: { languages: [English], drop_toxic: true, drop_redacted: true, max_chars_per_turn: 32000 }
  dedup:
    exact: { enabled: true, text: all_user_turns }
    near: { enabled: true, text: first_user_turn, threshold: 0.7 }
    templates: { enabled: true, ngram: 7, max_others: 100 }
  intents: { backend: template }
  tokenize: { max_seq_len: 2048, overflow: truncate_history }
  split: { fractions: { train: 0.9, validation: 0.05, test: 0.05 }, stratify_by: country }
`,
    );
    const r = await buildDataset(pipeline(), silentLogger);
    const filter = r.markers.find((m) => m.stage === 'filter')!;
    assert.equal(filter.drops['language'], 19);
    assert.equal(pipeline().config.max_drop_fraction, 0.8);
  });

  it('validate and plan warn when a source has no user field (the split is then by conversation)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.parquet'), '');
    writeFileSync(join(dir, 'y.json'), '');
    const { file } = writePipeline(dir, `${head(dir)}sources:\n  - {name: lm, type: generic, preset: lmsys, files: [${join(dir, 'x.parquet')}]}\n  - {name: sg, type: generic, preset: sharegpt, files: [${join(dir, 'y.json')}]}\n`);
    for (const cmd of ['validate', 'plan']) {
      const r = runCli([cmd, file]);
      assert.match(r.stderr, /warning: sources\[0\] \(lm\) has no user field \(user_key: none\): its conversations are split by conversation, not by user/, cmd);
      assert.doesNotMatch(r.stderr, /sources\[1\]/, 'sharegpt groups chunks by their base id');
    }
  });
});
