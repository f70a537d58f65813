import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3 } from 'openapi-types';
import { ApiMetrics } from '#adapters/http/api-metrics.ts';
import { httpAppWithFakes, type HttpAppHarness } from '#test/support/http-app-harness.ts';

/** Every route of the api, as OpenAPI names them. */
const ROUTES = [
  'GET /',
  'GET /dlq',
  'GET /healthz',
  'GET /jobs/{id}',
  'GET /metrics',
  'GET /openapi.json',
  'GET /samples/seed/{seed}/{width}/{height}',
  'GET /status',
  'GET /thumbnails/{file}',
  'POST /dlq/replay',
  'POST /enqueue',
  'POST /tasks',
];

describe('GET /openapi.json and /docs', () => {
  let harness: HttpAppHarness;
  let document: OpenAPIV3.Document;

  before(async () => {
    harness = httpAppWithFakes({ metrics: new ApiMetrics() });
    const response = await harness.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200);
    document = response.json();
  });

  after(async () => {
    await harness?.app.close();
  });

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item ?? {})
        .filter(([method]) => ['get', 'post', 'put', 'delete', 'patch'].includes(method))
        .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation: operation as OpenAPIV3.OperationObject })),
    );

  it('is a valid OpenAPI 3 document', async () => {
    assert.match(document.openapi, /^3\./);

    await SwaggerParser.validate(structuredClone(document) as OpenAPIV3.Document);
  });

  it('lists every route, and nothing else', () => {
    assert.deepEqual(operations().map(({ name }) => name).sort(), ROUTES);
  });

  it('gives every route a summary and an example or a media type for its answer', () => {
    for (const { name, operation } of operations()) {
      assert.ok(operation.summary, `${name} has a summary`);
      const answers = Object.values(operation.responses) as OpenAPIV3.ResponseObject[];
      const shown = answers.some((answer) => Object.values(answer.content ?? {}).some((media) => (media.schema as OpenAPIV3.SchemaObject | undefined)?.example !== undefined || (media.schema as OpenAPIV3.SchemaObject | undefined)?.type === 'string'));
      assert.ok(shown, `${name} shows an example answer`);
    }
  });

  it('is generated from the validation schemas: the task body and the enqueue limit carry their bounds', () => {
    const tasks = document.paths['/tasks']!.post!;
    const body = (tasks.requestBody as OpenAPIV3.RequestBodyObject).content['application/json']!.schema as OpenAPIV3.SchemaObject;
    assert.deepEqual(body.required, ['url']);
    assert.equal((body.properties!.url as OpenAPIV3.SchemaObject).maxLength, 2048);
    const limit = document.paths['/enqueue']!.post!.parameters!.find((parameter) => (parameter as OpenAPIV3.ParameterObject).name === 'limit') as OpenAPIV3.ParameterObject;
    assert.deepEqual([(limit.schema as OpenAPIV3.SchemaObject).minimum, (limit.schema as OpenAPIV3.SchemaObject).maximum], [1, 10000]);
  });

  it('marks /healthz and /samples open, everything else behind the key', () => {
    for (const { name, operation } of operations()) {
      const open = name === 'GET /healthz' || name.startsWith('GET /samples/');
      assert.deepEqual(operation.security ?? document.security, open ? [] : [{ bearer: [] }, { basic: [] }], name);
    }
  });

  it('serves the Swagger UI and its assets itself, calling out to no other host', async () => {
    const page = await harness.app.inject({ method: 'GET', url: '/docs/' });
    const bundle = await harness.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    const initializer = await harness.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });

    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui-bundle\.js/);
    assert.doesNotMatch(page.body, /(src|href)="https?:/, 'no asset from another host');
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.rawPayload.length > 100_000);
    assert.match(initializer.body, /validatorUrl: null/);
  });
});
