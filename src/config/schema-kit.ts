import { Type, type Static, type TSchema } from '@sinclair/typebox';

// Shapes the pipeline schema uses that TypeBox would otherwise spell as anyOf or
// patternProperties: Ajv's errors for those ("must match a schema in anyOf") name neither the
// allowed values nor the key, and the checked-in schema documents the plain JSON Schema form.

/**
 * Optional in the pipeline file, present in the resolved config: Ajv fills its `default`, or
 * the loader fills it (run_dir, out_dir). The runtime schema is optional; the static type is not.
 */
export function filled<T extends TSchema>(schema: T): T {
  return Type.Optional(schema) as unknown as T;
}

/** One of a fixed list of strings, as a JSON Schema `enum`. */
export function oneOf<const V extends readonly string[]>(values: V, options: Record<string, unknown> = {}) {
  return Type.Unsafe<V[number]>({ enum: [...values], ...options });
}

/** A value of a JSON type or null, as `type: [t, "null"]`. */
export function orNull<T>(type: 'integer' | 'number' | 'string', options: Record<string, unknown> = {}) {
  return Type.Unsafe<T | null>({ type: [type, 'null'], ...options });
}

/** A mapping from free-form names to values of one schema, as `additionalProperties`. */
export function recordOf<V extends TSchema>(value: V, options: Record<string, unknown> = {}) {
  return Type.Unsafe<Record<string, Static<V>>>({ type: 'object', ...options, additionalProperties: value });
}
