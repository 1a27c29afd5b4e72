import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { readSchema } from '../../src/core/version.js';
import type { Manifest } from '../../src/stages/shards/manifest.js';
import { renderCard, splitOrder, type SampleSchema } from '../../src/stages/shards/render-card.js';
import { propertyOptions } from '../helpers.js';

// Strings that break naive Markdown and YAML: pipes, newlines, backticks, colons, quotes, dashes.
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.array(fc.constantFrom('|', '\n', '\r\n', '\\', '`', ':', '#', '---', '"', "'", '- ', '{', '}', '[', '*', '&', '!', 'a', ' ', '\t'), { maxLength: 8 }).map((a) => a.join('')),
);
const count = fc.nat({ max: 10_000_000 });
const split = fc.record({ conversations: count, samples: count, users: count, bytes: count, files: fc.nat({ max: 50 }) });

const manifest: fc.Arbitrary<Manifest> = fc.record({
  name: nasty,
  generator: fc.record({ name: nasty, version: nasty }),
  sample_schema_version: nasty,
  config_hash: nasty,
  pipeline_file: nasty,
  seed: fc.nat(),
  sources: fc.array(
    fc.record({
      name: nasty,
      type: fc.oneof(fc.constantFrom('wildchat', 'prism', 'generic'), nasty),
      license: nasty,
      hub: fc.option(fc.record({ repo: nasty, repo_type: fc.constantFrom('dataset', 'model'), revision: nasty, sha: fc.option(nasty, { nil: null }) }), { nil: null }),
      files: fc.array(fc.record({ path: nasty, bytes: count, sha256: nasty }), { maxLength: 3 }),
    }),
    { maxLength: 3 },
  ),
  stages: fc.array(
    fc.record(
      {
        name: nasty,
        conversations_in: count,
        conversations_out: count,
        samples_out: fc.option(count, { nil: null }),
        dropped: fc.dictionary(nasty, count, { maxKeys: 3 }),
        samples_in: count,
        samples_dropped: fc.dictionary(nasty, count, { maxKeys: 2 }),
      },
      { requiredKeys: ['name', 'conversations_in', 'conversations_out', 'samples_out', 'dropped'] },
    ),
    { maxLength: 4 },
  ),
  splits: fc.dictionary(nasty, split, { maxKeys: 5 }),
  leaks: fc.option(fc.record({ checked: fc.constant(true), threshold: fc.double({ min: 0, max: 1, noNaN: true }), dropped: fc.boolean(), against: nasty, by_split: fc.dictionary(nasty, count, { maxKeys: 3 }) }), { nil: null }),
  tokens: fc.option(
    fc.record({
      tokenizer: nasty,
      tokenizer_sha256: nasty,
      max_seq_len: fc.nat({ max: 1 << 20 }),
      end_token: nasty,
      overflow: nasty,
      splits: fc.dictionary(
        nasty,
        fc.record({ samples: count, tokens: count, target_tokens: count, mean: fc.double({ min: 0, max: 1e6, noNaN: true }), p50: count, p95: count, max: count, truncated: count, dropped: count }),
        { maxKeys: 3 },
      ),
      dropped_without_split: count,
    }),
    { nil: null },
  ),
  files: fc.array(fc.record({ path: nasty, split: nasty, rows: count, bytes: count, sha256: nasty }), { maxLength: 3 }),
});

/** Cells of a Markdown table row: split on pipes that are not escaped with a backslash. */
function cells(row: string): number {
  let n = 0;
  for (let i = 0; i < row.length; i++) if (row[i] === '|' && row[i - 1] !== '\\') n++;
  return n;
}

describe('dataset card, property-based', () => {
  const schema = readSchema<SampleSchema>('sample.schema.json');

  it('front matter always parses as YAML and lists exactly the manifest splits; every table row has its header column count', () => {
    fc.assert(
      fc.property(manifest, fc.array(nasty, { maxLength: 3 }), nasty, (m, languages, endToken) => {
        const card = renderCard(m, schema, { languages, endToken });
        const lines = card.split('\n');
        assert.equal(lines[0], '---');
        const end = lines.indexOf('---', 1);
        assert.ok(end > 0, 'front matter is closed');
        const front = parseYaml(lines.slice(1, end).join('\n'));
        const splits = splitOrder(Object.keys(m.splits));
        assert.deepEqual(front.configs[0].data_files.map((d: { split: string }) => d.split), splits);
        assert.deepEqual(front.dataset_info.splits.map((d: { name: string }) => d.name), splits);
        assert.equal(front.pretty_name, `UserLM training data: ${m.name}`);
        // Tables: a header line, a |---| line, then rows up to the first line that is not a row.
        for (let i = end + 1; i < lines.length; i++) {
          if (!/^\|(\s*:?-+:?\s*\|)+$/.test(lines[i]!)) continue;
          const width = cells(lines[i - 1]!);
          assert.equal(cells(lines[i]!), width);
          let j = i + 1;
          for (; j < lines.length && lines[j]!.startsWith('|'); j++) {
            assert.equal(cells(lines[j]!), width, `table row ${j}: ${JSON.stringify(lines[j])}`);
            assert.ok(lines[j]!.endsWith('|') && !lines[j]!.endsWith('\\|'), `row ${j} is closed`);
          }
          assert.equal(lines[j] ?? '', '', `the table ends with a blank line, not a row spilled onto a line of its own: ${JSON.stringify(lines[j])}`);
        }
      }),
      propertyOptions(300),
    );
  });
});
