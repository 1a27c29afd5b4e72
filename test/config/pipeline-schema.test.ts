import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { pipelineSchema, sourceOptionOwners } from '../../src/config/pipeline-schema.js';
import { pipelineSchemaJson } from '../../src/config/pipeline-schema-json.js';
import { SOURCE_DEFINITIONS } from '../../src/sources/registry.js';
import { defineSource } from '../../src/sources/source-definition.js';
import { ROOT } from '../helpers.js';

const stub = { adapter: async () => ({ sql: '', params: {}, notes: {} }), defaultLicense: 'other', citation: null, cardProse: {} };

describe('pipeline schema', () => {
  it('is the checked-in schemas/pipeline.schema.json (run `make schema` after changing the TypeBox schema or a source type)', () => {
    assert.equal(readFileSync(join(ROOT, 'schemas', 'pipeline.schema.json'), 'utf8'), pipelineSchemaJson());
  });

  it('takes the source type enum, the type-specific keys and the licence defaults from the registry', () => {
    const src = JSON.parse(pipelineSchemaJson()).properties.sources.items;
    assert.deepEqual(src.properties.type.enum, SOURCE_DEFINITIONS.map((d) => d.type));
    for (const key of ['format', 'preset', 'fields', 'roles']) assert.ok(src.properties[key], key);
    assert.equal(src.additionalProperties, false);
    assert.match(src.properties.license.description, /odc-by for wildchat, cc-by-nc-4\.0 for prism, apache-2\.0 for oasst, other for generic/);
  });

  it('lets two types share an option key only with the same schema', () => {
    const a = defineSource({ ...stub, type: 'a', title: 'A', options: { format: Type.Optional(Type.String()) } });
    const same = defineSource({ ...stub, type: 'b', title: 'B', options: { format: Type.Optional(Type.String()) } });
    const other = defineSource({ ...stub, type: 'c', title: 'C', options: { format: Type.Optional(Type.Integer()) } });
    assert.deepEqual(sourceOptionOwners([a, same]).get('format')?.types, ['a', 'b']);
    assert.throws(() => sourceOptionOwners([a, other]), /"a" and "c" both define option "format" with different schemas/);
    const clash = defineSource({ ...stub, type: 'd', title: 'D', options: { files: Type.Optional(Type.String()) } });
    assert.throws(() => pipelineSchema([clash]), /option "files" is a key every source has/);
  });
});
