// `make schema`: regenerates schemas/pipeline.schema.json from the TypeBox schema and the
// source registry. The file is checked in because it is the documentation of pipeline files.
import { writeFileSync } from 'node:fs';
import { pipelineSchemaJson } from './pipeline-schema-json.js';

const target = process.argv[2] ?? 'schemas/pipeline.schema.json';
writeFileSync(target, pipelineSchemaJson());
console.log(`wrote ${target}`);
