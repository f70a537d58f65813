import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';

/**
 * Fastify's own ajv compiler in two settings. JSON bodies are validated as
 * sent: `{"id": 42}` is not the string "42", `{"ops": "thumbnail"}` is not a
 * list. Query strings and path parameters are text by nature, so they are
 * coerced (`?limit=10`). Unknown keys are refused in both rather than silently
 * dropped (Fastify's default drops them).
 *
 * The route schemas are constants (`schemas.ts`), so they are checked against
 * the JSON Schema meta-schema once, in test/unit/schemas.test.ts, rather than
 * at every start: each ajv instance would otherwise compile the meta-schema
 * first (~25 ms of start-up per instance). Ajv's strict mode still refuses
 * unknown keywords when a route's schema is compiled.
 */
export function validatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const build = AjvCompiler();
  const asSent = build({}, { customOptions: { coerceTypes: false, removeAdditional: false, validateSchema: false } });
  const coerced = build({}, { customOptions: { removeAdditional: false, validateSchema: false } });
  return (route) => (route.httpPart === 'body' ? asSent : coerced)(route);
}
