import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { parsePipeline } from '../../src/config/load-pipeline.js';
import { pipelineSchemaJson } from '../../src/config/pipeline-schema-json.js';
import { sqlString } from '../../src/core/db.js';
import { ConfigError } from '../../src/core/errors.js';
import { readSchema } from '../../src/core/version.js';
import { buildManifest, defaultLicense } from '../../src/stages/shards/manifest.js';
import { renderCard, type SampleSchema } from '../../src/stages/shards/render-card.js';
import { canonicalSelect } from '../../src/sources/canonical-select.js';
import { SOURCE_DEFINITIONS, sourceDefinition, type SourceRegistry } from '../../src/sources/registry.js';
import { CANONICAL_COLUMNS, MESSAGES_TYPE, paramPrefix } from '../../src/sources/source-adapter.js';
import { defineSource } from '../../src/sources/source-definition.js';
import { tempDir, withDb } from '../helpers.js';

// Everything a new source type is: this one object (in src/sources/<type>.ts) and its entry
// in the registry list. Nothing else in the code names it.
const toySource = defineSource({
  type: 'toy',
  title: 'ToyChat',
  options: {
    speaker_field: Type.Optional(Type.String({ minLength: 1, description: 'toy only: which field names the speaker.' })),
  },
  check(s) {
    return typeof s.speaker_field === 'string' && s.speaker_field.startsWith('_')
      ? [{ path: ['speaker_field'], message: 'must not start with "_" (those fields are internal); rename it' }]
      : [];
  },
  async adapter({ source, index, files }) {
    const p = paramPrefix(index);
    const who = source.speaker_field ?? 'who';
    const sql = canonicalSelect(
      {
        conversation_id: `$${p}source || ':' || CAST(id AS VARCHAR)`,
        source: `$${p}source`,
        source_type: `'toy'`,
        source_file: 'filename',
        source_row: 'row_number() OVER ()',
        user_key: `'toy|' || ${who}`,
        country: 'NULL::VARCHAR',
        language: `CAST($${p}language AS VARCHAR)`,
        timestamp: 'NULL::TIMESTAMP',
        toxic: 'false',
        redacted: 'false',
        split_override: 'NULL::VARCHAR',
        messages: `CAST([{'role': 'user', 'content': q}, {'role': 'assistant', 'content': a}] AS ${MESSAGES_TYPE})`,
        source_meta: `'{}'`,
        ord: 'row_number() OVER ()',
        drop_reason: 'NULL::VARCHAR',
      },
      `read_json(${sqlString(files[0]!.path)}, format = 'newline_delimited', filename = true)`,
    );
    return { sql, params: { [`${p}source`]: source.name, [`${p}language`]: source.language ?? 'English' }, notes: {} };
  },
  defaultLicense: 'cc0-1.0',
  citation: '@misc{toy2025, title = {ToyChat}}',
  cardProse: { userKey: 'the speaker field' },
});

const registry = [...SOURCE_DEFINITIONS, toySource];

function issuesOf(text: string, reg: SourceRegistry = registry): string[] {
  try {
    parsePipeline(text, 'p.yaml', reg);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.message.split('\n').slice(1).map((l) => l.trim());
  }
  assert.fail('expected the pipeline to be rejected');
}

describe('a new source type (toy, defined in this test)', () => {
  const yaml = 'name: x\nsources:\n  - name: t\n    type: toy\n    files: [t.jsonl]\n    speaker_field: speaker\n';

  it('is one file plus one registry entry: its schema fragment and rules reach validation', () => {
    const p = parsePipeline(yaml, 'p.yaml', registry);
    assert.equal(p.config.sources[0]!.type, 'toy');
    // Without the registry entry the type is unknown, and the message lists the known ones.
    assert.deepEqual(issuesOf(yaml, SOURCE_DEFINITIONS), [
      'p.yaml:4:11 sources[0].type: must be one of "wildchat", "prism", "oasst", "generic" (got "toy")',
      'p.yaml:6:5 sources[0].speaker_field: unknown key "speaker_field"; known keys: name, type, files, hub, split, language, trim, consecutive_roles, path, format, preset, fields, roles, user_pattern, license',
    ]);
    assert.deepEqual(issuesOf(yaml.replace('speaker_field: speaker', 'speaker_field: _x')), [
      'p.yaml:6:20 sources[0].speaker_field: must not start with "_" (those fields are internal); rename it',
    ]);
    assert.deepEqual(issuesOf(yaml.replace('speaker_field: speaker', 'speaker_field: ""')), ['p.yaml:6:20 sources[0].speaker_field: must not be empty']);
    // Keys of other types are refused both ways, naming the type they belong to.
    assert.deepEqual(issuesOf(yaml + '    preset: openai\n'), ['p.yaml:7:13 sources[0].preset: only applies to type "generic" (this source is "toy"); remove it']);
    assert.deepEqual(issuesOf('name: x\nsources:\n  - name: w\n    type: wildchat\n    files: [w.parquet]\n    speaker_field: s\n'), [
      'p.yaml:6:20 sources[0].speaker_field: only applies to type "toy" (this source is "wildchat"); remove it',
    ]);
    assert.deepEqual(issuesOf(yaml.replace('speaker_field', 'speaker_feild')), ['p.yaml:6:5 sources[0].speaker_feild: unknown key "speaker_feild"; did you mean "speaker_field"?']);
    const schema = JSON.parse(pipelineSchemaJson(registry)).properties.sources.items;
    assert.ok(schema.properties.type.enum.includes('toy'));
    assert.equal(schema.properties.speaker_field.description, 'toy only: which field names the speaker.');
    assert.match(schema.properties.license.description, /cc0-1\.0 for toy/);
  });

  it('its adapter yields the canonical columns through the shared SELECT', async () => {
    const dir = tempDir();
    const file = join(dir, 't.jsonl');
    writeFileSync(file, [{ id: 1, speaker: 'ann', q: 'hi?', a: 'hello' }, { id: 2, speaker: 'bo', q: 'why?', a: 'because' }].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const source = parsePipeline(yaml, 'p.yaml', registry).config.sources[0]!;
    const rows = await withDb(async (db) => {
      const res = await sourceDefinition('toy', registry).adapter({ db, source, index: 0, files: [{ path: file, bytes: 0, mtimeMs: 0, identity: 'test' }], scratchDir: dir });
      return db.all<Record<string, unknown>>(`SELECT * FROM (${res.sql}) ORDER BY ord`, res.params);
    });
    assert.deepEqual(Object.keys(rows[0]!), [...CANONICAL_COLUMNS, 'ord', 'drop_reason']);
    assert.deepEqual(rows.map((r) => [r['conversation_id'], r['user_key'], r['language']]), [['t:1', 'toy|ann', 'English'], ['t:2', 'toy|bo', 'English']]);
  });

  it('its licence, citation and card prose reach the manifest and the dataset card', () => {
    const pipeline = parsePipeline(yaml, 'p.yaml', registry);
    assert.equal(defaultLicense('toy', registry), 'cc0-1.0');
    const manifest = buildManifest({ pipeline, version: '0', schemaVersion: '1', stages: [], sources: { sources: {} }, intents: null, leaks: null, splits: {}, tokens: null, files: [], registry });
    assert.equal(manifest.sources[0]!.license, 'cc0-1.0');
    const card = renderCard(manifest, readSchema<SampleSchema>('sample.schema.json'), { languages: ['English'], endToken: '<|endconversation|>', sources: registry });
    assert.ok(card.includes('@misc{toy2025, title = {ToyChat}}'), card);
    assert.ok(card.includes('users (ToyChat: the speaker field) are assigned as a whole'), card);
    assert.ok(card.includes('cc0-1.0'), card);
    // The built-in types' prose and citations are not printed for a pipeline without them.
    assert.ok(!card.includes('WildChat: hashed IP') && !card.includes('zhao2024wildchat'), card);
  });
});
