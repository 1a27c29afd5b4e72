import type { TSchema } from '@sinclair/typebox';
import { SOURCE_DEFINITIONS, type SourceRegistry } from '../sources/registry.js';
import { pipelineSchema } from './pipeline-schema.js';

const FIRST = ['$schema', '$id', 'title', 'type', 'enum'];
const LAST = ['required', 'properties', 'items'];

/**
 * Keywords in reading order (what a value is, then its limits, then its members) rather than
 * in the order TypeBox builds them: the file is read by people.
 */
function readable(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const s = schema as Record<string, unknown>;
  const rank = (k: string) => (FIRST.includes(k) ? FIRST.indexOf(k) - FIRST.length : LAST.includes(k) ? 1 + LAST.indexOf(k) : 0);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(s).sort((a, b) => rank(a) - rank(b))) {
    const v = s[k];
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as object).map(([name, p]) => [name, readable(p)]));
    else if (k === 'items' || k === 'additionalProperties' || k === 'propertyNames') out[k] = readable(v);
    else out[k] = v;
  }
  return out;
}

/** The text of schemas/pipeline.schema.json: `make schema` writes it, a test checks it is current. */
export function pipelineSchemaJson(registry: SourceRegistry = SOURCE_DEFINITIONS): string {
  return JSON.stringify(readable(pipelineSchema(registry) as TSchema), null, 2) + '\n';
}
