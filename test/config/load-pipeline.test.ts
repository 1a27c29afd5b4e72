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
      'p.yaml:5:11 sources[0].type: must be one of "wildchat", "prism", "oasst", "generic" (got "wildchaat"); did you mean "wildchat"?',
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
    // Formats are detected from each file's content when it is read, so logs.txt is no config error.
    assert.ok(!issues.some((i) => i.includes('files[0]')), issues.join('\n'));
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

  it('pins every Hub source of the bundled recipe to a full commit sha and reads it from the cache', async () => {
    const p = await loadPipeline(join(ROOT, 'pipelines', 'userlm-wildchat.yaml'));
    const hub = p.config.sources.map((s) => s.hub);
    assert.deepEqual(hub.map((h) => h?.repo), ['allenai/WildChat-1M', 'HannahRoseKirk/prism-alignment']);
    for (const s of p.config.sources) {
      assert.match(s.hub!.revision, /^[0-9a-f]{40}$/, s.name);
      assert.equal(s.files, undefined, `${s.name} reads the Hub snapshot, not local paths`);
      assert.equal(s.hub!.repo_type, 'dataset');
    }
  });

  it('a source has files or hub, not both nor neither, and a Hub revision must be a commit sha', () => {
    const issues = issuesOf(
      [
        'name: x',
        'sources:',
        '  - name: a',
        '    type: wildchat',
        '  - name: b',
        '    type: wildchat',
        '    files: [b.parquet]',
        '    hub: {repo: o/b, revision: 0123456789abcdef0123456789abcdef01234567, files: [x.parquet]}',
        '  - name: c',
        '    type: prism',
        '    hub: {repo: o/c, revision: main, files: [c.jsonl]}',
        '  - name: d',
        '    type: generic',
        '    preset: openai',
        '    hub: {repo: o/d, revision: 0123456789abcdef0123456789abcdef01234567, files: [d.txt]}',
        '',
      ].join('\n'),
    );
    assert.deepEqual(issues, [
      'p.yaml:3:5 sources[0]: needs files (local paths or globs) or hub (a Hugging Face repo at a pinned commit)',
      'p.yaml:7:12 sources[1].files: a Hub source reads its snapshot from the Hugging Face cache; remove files (list repo paths under hub.files) or remove hub to read local files',
      'p.yaml:11:32 sources[2].hub.revision: must be a full 40-character commit sha (got "main"); a branch or tag moves and the data would change under the same pipeline file. Copy the sha from the repo\'s "Files and versions" history',
    ]);
  });

  it('reports every other kind of broken file: empty, not a mapping, duplicate key, tabs, alias bomb, wrong shapes, NUL', () => {
    const src = 'sources: [{name: a, type: wildchat, files: [a.parquet]}]\n';
    const cases: [string, string[]][] = [
      ['', ['p.yaml (root): must be a mapping with name, sources and stages (got null)']],
      ['# only a comment\n', ['p.yaml (root): must be a mapping with name, sources and stages (got null)']],
      ['- a\n- b\n', ['p.yaml:1:1 (root): must be a mapping with name, sources and stages (got a list)']],
      ['name: x\nname: y\n' + src, ['p.yaml:2:1 (root): YAML syntax: Map keys must be unique']],
      ['name: x\nsources:\n\t- name: a\n', ['p.yaml:3:1 (root): YAML syntax: Tabs are not allowed as indentation']],
      ['name: x\n' + src + 'stages: 5\n', ['p.yaml:3:9 stages: must be a mapping (got number 5)']],
      ['name: x\nsources: null\n', ['p.yaml:2:10 sources: must be a list (got null)']],
      ['name: x\n' + src + 'stages:\n  dedupe: {}\n', ['p.yaml:4:3 stages.dedupe: unknown key "dedupe"; did you mean "dedup"?']],
      ['name: x\n' + src + 'stages:\n  dedup:\n    near:\n      threshold: 1.5\n', ['p.yaml:6:18 stages.dedup.near.threshold: must be <= 1 (got number 1.5)']],
      ['name: x\nseed: 1e400\n' + src, ['p.yaml:2:7 seed: must be <= 4294967295 (got number Infinity)']],
      ['name: x\nsources: [{name: a, type: wildchat, files: ["a\\0.parquet"]}]\n', ['p.yaml:2:45 sources[0].files[0]: contains a NUL character; remove it']],
    ];
    for (const [text, want] of cases) assert.deepEqual(issuesOf(text), want, JSON.stringify(text));
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) laughs.push(`${'abcdefgh'[i]}: &${'abcdefgh'[i]} [${Array(9).fill(`*${'abcdefgh'[i - 1]}`).join(', ')}]`);
    const bomb = issuesOf(laughs.join('\n') + '\nname: x\n');
    assert.equal(bomb.length, 1);
    assert.match(bomb[0]!, /^p\.yaml \(root\): YAML aliases: Excessive alias count .*; write the values out instead of nesting aliases$/);
  });

  it('gives the same config hash for the same meaning, another for another', () => {
    const a = parsePipeline('name: x\nseed: 1\nsources: [{name: a, type: wildchat, files: [a.parquet]}]\n', 'a.yaml');
    const b = parsePipeline('seed: 1\nsources:\n  - {files: [a.parquet], type: wildchat, name: a}\nname: x\n', 'b.yaml');
    const c = parsePipeline('name: x\nseed: 2\nsources: [{name: a, type: wildchat, files: [a.parquet]}]\n', 'a.yaml');
    assert.equal(a.configHash, b.configHash);
    assert.notEqual(a.configHash, c.configHash);
  });
});
