import type { SampleSchema } from './render-card.js';

type Feature = Record<string, unknown>;

function value(dtype: string): Feature {
  return { dtype, _type: 'Value' };
}

function feature(p: SampleSchema['properties'][string]): Feature {
  if (p.items) {
    const fields = Object.entries(p.items.properties).map(([name, f]) => [name, value(f.type === 'boolean' ? 'bool' : 'string')]);
    return { feature: Object.fromEntries(fields), _type: 'List' };
  }
  const t = Array.isArray(p.type) ? p.type.find((x) => x !== 'null') : p.type;
  if (t === 'integer') return value(p.format === 'int64' ? 'int64' : 'int32');
  if (t === 'boolean') return value('bool');
  if (t === 'number') return value('float64');
  return value('string');
}

/**
 * The `huggingface` key-value metadata of a Parquet schema, as `datasets` writes it
 * (Features.arrow_schema: {"info": {"features": Features.to_dict()}}) and reads it back
 * (Features.from_arrow_schema), so a loaded shard gets these features rather than guessed ones.
 * schema: the columns the shards hold, in order.
 */
export function huggingfaceMetadata(schema: SampleSchema): string {
  const features = Object.fromEntries(Object.entries(schema.properties).map(([name, p]) => [name, feature(p)]));
  return JSON.stringify({ info: { features } });
}
