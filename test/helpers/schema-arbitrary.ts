/**
 * fast-check arbitraries from JSON schemas (as the OpenAPI document shows TypeBox's): values the
 * schema accepts, for generating REST bodies and query strings. Covers what canplug's schemas use:
 * object, string (length, pattern, enum), integer and number (bounds), boolean, null, array, anyOf.
 */
import fc from 'fast-check';

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  minProperties?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  uniqueItems?: boolean;
}

/** `overrides`: arbitraries for properties by name, anywhere in the schema (e.g. device references that exist). */
export function arbitraryFor(schema: JsonSchema, overrides: Record<string, fc.Arbitrary<unknown>> = {}): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map((s) => arbitraryFor(s, overrides)));
  switch (schema.type) {
    case 'object': {
      const properties = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, overrides[k] ?? arbitraryFor(s, overrides)])),
        { requiredKeys: [...required] },
      );
      const min = schema.minProperties ?? 0;
      return min > 0 ? record.filter((o) => Object.keys(o).length >= min) : record;
    }
    case 'string':
      if (schema.pattern)
        return fc
          .stringMatching(new RegExp(schema.pattern))
          .filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 120) });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(arbitraryFor(schema.items ?? {}, overrides), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 5, 10),
      });
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values the schema refuses, or that push at its edges: wrong types, out of range, unknown keys, dropped required keys. */
export function invalidFor(schema: JsonSchema): fc.Arbitrary<unknown> {
  const wrongType = fc.jsonValue({ maxDepth: 3 });
  if (schema.type === 'object' && schema.properties) {
    const valid = arbitraryFor(schema) as fc.Arbitrary<Record<string, unknown>>;
    const keys = Object.keys(schema.properties);
    return fc.oneof(
      wrongType,
      valid.chain((o) => fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.jsonValue()).map(([k, v]) => ({ ...o, [k]: v }))),
      valid.chain((o) => fc.constantFrom(...keys).chain((k) => invalidFor(schema.properties![k]).map((v) => ({ ...o, [k]: v })))),
      valid.map((o) => {
        const copy = { ...o };
        for (const k of schema.required ?? []) delete copy[k];
        return copy;
      }),
    );
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    return fc.oneof(wrongType, fc.constantFrom((schema.minimum ?? 0) - 1, (schema.maximum ?? 0) + 1, 1.5, -0, 1e308, '12', null));
  }
  if (schema.type === 'string')
    return fc.oneof(
      wrongType,
      fc.string({ minLength: (schema.maxLength ?? 200) + 1, maxLength: (schema.maxLength ?? 200) + 50 }),
      fc.constant(''),
    );
  return wrongType;
}
