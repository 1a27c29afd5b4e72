import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadPipeline, parsePipeline } from '../../src/config/load-pipeline.js';
import { ConfigError } from '../../src/core/errors.js';
import { ROOT } from '../helpers.js';

function issuesOf(text: string): string[] {
  try {
    parsePipeline(text, 'p.yaml');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected the pipeline to be rejected');
}

describe('pipeline files', () => {
  it('accepts the bundled pipelines and fills in documented defaults', async () => {
    for (const f of ['sample.yaml', 'userlm-wildchat.yaml']) {
      const p = await loadPipeline(join(ROOT, 'pipelines', f));
      assert.equal(p.config.stages.flip.end_token, '<|endconversation|>');
      assert.deepEqual(p.config.stages.split.fractions, { train: 0.9, validation: 0.05, test: 0.05 });
      assert.match(p.configHash, /^[0-9a-f]{64}$/);
    }
    const p = parsePipeline('name: x\nsources: [{name: a, type: wildchat, files: [a.parquet]}]\n', 'x.yaml');
    assert.equal(p.config.run_dir, 'runs/x');
    assert.equal(p.config.out_dir, 'out/x');
    assert.equal(p.config.stages.filter.max_chars_per_turn, 32000);
    assert.deepEqual(p.config.stages.filter.languages, ['English']);
    assert.equal(p.config.stages.dedup.exact.enabled, true);
  });

  it('names file, line, key path and the fix for an unknown key', () => {
    const issues = issuesOf('name: x\nsources:\n  - name: a\n    type: wildchat\n    files: [a.parquet]\nstages:\n  filter:\n    max_chars_per_trun: 10\n');
    assert.deepEqual(issues, ['p.yaml:8:5 stages.filter.max_chars_per_trun: unknown key "max_chars_per_trun"; did you mean "max_chars_per_turn"?']);
  });

  it('reports every problem at once, schema and cross-field alike, in line order', () => {
    const issues = issuesOf(
      [
        'name: Bad Name',
        'seeed: 3',
        'sources:',
        '  - name: wc',
        '    type: wildchaat',
        '    files: []',
        '  - name: wc',
        '    type: prism',
        '    files: [x.jsonl]',
        '    preset: sharegpt',
        'stages:',
        '  filter:',
        '    max_chars_per_turn: -5',
        '  split:',
        '    fractions: {train: 0.9, validation: 0.2}',
        '',
      ].join('\n'),
    );
    assert.deepEqual(issues, [
      'p.yaml:1:7 name: must match ^[a-z0-9][a-z0-9._-]*$ (got "Bad Name")',
      'p.yaml:2:1 seeed: unknown key "seeed"; did you mean "seed"?',
      'p.yaml:5:11 sources[0].type: must be one of "wildchat", "prism", "generic" (got "wildchaat"); did you mean "wildchat"?',
      'p.yaml:6:12 sources[0].files: must have at least 1 item(s)',
      'p.yaml:7:11 sources[1].name: duplicate source name "wc" (also sources[0]); names prefix conversation ids and must be unique',
      'p.yaml:10:13 sources[1].preset: only applies to type "generic" (this source is "prism"); remove it',
      'p.yaml:13:25 stages.filter.max_chars_per_turn: must be >= 1 (got number -5)',
      'p.yaml:15:16 stages.split.fractions: must sum to 1 (got 1.1)',
    ]);
  });

  it('reports missing keys, wrong types and generic sources without a mapping', () => {
    const issues = issuesOf('sources:\n  - name: g\n    type: generic\n    files: [logs.txt]\n    roles: {bot: robot}\nseed: "7"\n');
    assert.ok(issues.some((i) => i === 'p.yaml:1:1 (root): missing required key "name"'), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('p.yaml:6:7 seed: must be a whole number (got "7")')), issues.join('\n'));
    assert.ok(issues.some((i) => i.startsWith('p.yaml:5:18 sources[0].roles.bot: must be one of "user", "assistant", "system"')), issues.join('\n'));
    assert.ok(issues.some((i) => i.includes('sources[0]: a generic source needs preset: openai | sharegpt')), issues.join('\n'));
    assert.ok(issues.some((i) => i.includes('sources[0].files[0]: cannot tell the format from "logs.txt"; set format: parquet | jsonl')), issues.join('\n'));
  });

  it('reports YAML syntax errors with their line, and a missing file', async () => {
    const issues = issuesOf('name: a\nsources: [\n  - x\n');
    assert.ok(issues.length >= 1);
    assert.match(issues[0]!, /^p\.yaml:\d+:\d+ \(root\): YAML syntax: /);
    await assert.rejects(loadPipeline('/nonexistent/p.yaml'), (e: Error) => {
      assert.match(e.message, /\/nonexistent\/p\.yaml \(root\): no such file; pass the path of a pipeline YAML/);
      return true;
    });
  });

  it('gives the same config hash for the same meaning, another for another', () => {
    const a = parsePipeline('name: x\nseed: 1\nsources: [{name: a, type: wildchat, files: [a.parquet]}]\n', 'a.yaml');
    const b = parsePipeline('seed: 1\nsources:\n  - {files: [a.parquet], type: wildchat, name: a}\nname: x\n', 'b.yaml');
    const c = parsePipeline('name: x\nseed: 2\nsources: [{name: a, type: wildchat, files: [a.parquet]}]\n', 'a.yaml');
    assert.equal(a.configHash, b.configHash);
    assert.notEqual(a.configHash, c.configHash);
  });
});
