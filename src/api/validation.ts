/**
 * Request validation with TypeBox, and messages that say what is allowed: "one of day, week,
 * month" rather than "Expected union value" (the type provider's compiler gives only the latter).
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { allowed } from '../config/config.js';

function describe(error: ValueError): string {
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown key; allowed keys here: ${Object.keys(error.schema.properties ?? {}).join(', ')}`;
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.Union:
      // A choice of fixed values can be listed; a union of shapes falls through to the general message.
      if ((error.schema.anyOf as TSchema[]).every((s) => 'const' in s))
        return `${JSON.stringify(error.value)} is not allowed; expected ${allowed(error.schema)}`;
      return `${JSON.stringify(error.value)} does not match any of the allowed forms (see /docs)`;
    default:
      return `${error.message[0].toLowerCase()}${error.message.slice(1)}${error.value !== undefined && typeof error.value !== 'object' ? `; got ${JSON.stringify(error.value)}` : ''}`;
  }
}

/** How numbers must be written in a path or query string: plain decimals ("1e1", "0x10", "2.5" for an integer are refused). */
const TEXT_GRAMMAR: Record<string, RegExp> = { integer: /^-?\d{1,15}$/, number: /^-?(\d+\.?\d*|\.\d+)$/ };

/**
 * Query strings and params arrive as text: "10" becomes 10 where the schema wants a number. TypeBox's
 * conversion is lenient ("1e1" -> 1, "2.5e3" -> 2): a value not written as a plain decimal is left as
 * text, so the check refuses it with what was sent.
 */
function convertText(schema: TSchema, value: unknown): unknown {
  // Read the texts first: Convert changes the object it is given.
  const texts = typeof value === 'object' && value !== null ? Object.entries(value) : [];
  const converted = Value.Convert(schema, value);
  if (typeof converted !== 'object' || converted === null) return converted;
  const properties = (schema.properties ?? {}) as Record<string, TSchema>;
  const out = { ...converted } as Record<string, unknown>;
  for (const [key, text] of texts) {
    const grammar = TEXT_GRAMMAR[properties[key]?.type as string];
    if (grammar && typeof text === 'string' && !grammar.test(text)) out[key] = text;
  }
  return out;
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (value) => {
    const converted = httpPart === 'body' ? value : convertText(schema, value);
    if (check.Check(converted)) return { value: converted };
    const first = check.Errors(converted).First()!;
    return { error: [{ message: describe(first), instancePath: first.path, keyword: '', schemaPath: '', params: {} }] };
  };
};

/** Deepest nesting a JSON body may have: the API's deepest body has 3 levels. */
export const MAX_BODY_DEPTH = 32;

/**
 * Whether a parsed JSON value nests deeper than `limit`. Iterative: a body of 64 KiB can nest
 * 32,000 levels, which would overflow the stack of any recursive walker (TypeBox's error messages).
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}
