import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

/**
 * Fastify's own ajv compiler in two settings. JSON bodies are validated as
 * sent: `{"id": 42}` is not the string "42", `{"ops": "thumbnail"}` is not a
 * list. Query strings and path parameters are text by nature, so they are
 * coerced (`?limit=10`). Unknown keys are refused in both rather than silently
 * dropped (Fastify's default drops them).
 */
export function validatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const build = AjvCompiler();
  const asSent = build({}, { customOptions: { coerceTypes: false, removeAdditional: false } });
  const coerced = build({}, { customOptions: { removeAdditional: false } });
  return (route) => (route.httpPart === 'body' ? asSent : coerced)(route);
}
