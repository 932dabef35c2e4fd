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
      if ((error.schema.anyOf as TSchema[]).every((s) => 'const' in s)) return `${JSON.stringify(error.value)} is not allowed; expected ${allowed(error.schema)}`;
      return `${JSON.stringify(error.value)} does not match any of the allowed forms (see /docs)`;
    default:
      return `${error.message[0].toLowerCase()}${error.message.slice(1)}${error.value !== undefined && typeof error.value !== 'object' ? `; got ${JSON.stringify(error.value)}` : ''}`;
  }
}

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (value) => {
    // Query strings and params arrive as text: convert "10" to 10 where the schema wants a number.
    const converted = httpPart === 'body' ? value : Value.Convert(schema, value);
    if (check.Check(converted)) return { value: converted };
    const first = check.Errors(converted).First()!;
    return { error: [{ message: describe(first), instancePath: first.path, keyword: '', schemaPath: '', params: {} }] };
  };
};
