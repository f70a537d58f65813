import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { jobSchema } from '#functions/job-schema.ts';
import * as routeSchemas from '#adapters/http/schemas.ts';

// The validators skip ajv's meta-schema check at start (it costs start-up time
// in every process); this is where an invalid schema is caught instead.
const PARTS = ['body', 'querystring', 'params', 'headers'] as const;

function checked(schema: unknown): { valid: boolean; errors: string } {
  const ajv = new Ajv();
  const valid = ajv.validateSchema(schema as object) as boolean;
  return { valid, errors: ajv.errorsText(ajv.errors) };
}

describe('validation schemas', () => {
  it('the meta-schema check refuses an invalid schema', () => {
    assert.equal(checked({ type: 'object', required: 'url' }).valid, false);
    assert.equal(checked({ type: 'integer', minimum: '1' }).valid, false);
  });

  it('the job schema is valid JSON Schema', () => {
    const { valid, errors } = checked(jobSchema);
    assert.ok(valid, errors);
  });

  it('every part of every route schema is valid JSON Schema', () => {
    const parts = Object.entries(routeSchemas).flatMap(([name, route]) =>
      PARTS.filter((part) => part in (route as object)).map((part) => ({ name: `${name}.${part}`, schema: (route as Record<string, unknown>)[part] })),
    );
    assert.ok(parts.length >= 8, `found ${parts.length} schema parts`);
    for (const { name, schema } of parts) {
      const { valid, errors } = checked(schema);
      assert.ok(valid, `${name}: ${errors}`);
    }
  });
});
