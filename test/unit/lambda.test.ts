import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { deriveJobId } from '#functions/job.ts';
import { makeLambdaHandler, type LambdaHandler } from '#adapters/http/lambda-handler.ts';
import { httpApiEvent, lambdaContext, restApiEvent, type RequestSpec } from '#test/support/api-gateway-events.ts';
import { httpAppWithFakes, taskBody, type HttpAppHarness } from '#test/support/http-app-harness.ts';

const payloads: Array<{ name: string; event: (spec: RequestSpec) => Record<string, unknown> }> = [
  { name: 'REST API (v1)', event: restApiEvent },
  { name: 'HTTP API (v2)', event: httpApiEvent },
];

for (const payload of payloads) {
  describe(`Lambda handler, ${payload.name} events`, () => {
    let harness: HttpAppHarness;
    let handler: LambdaHandler;

    before(() => {
      harness = httpAppWithFakes({ rows: 4 });
      handler = makeLambdaHandler(harness.app);
    });

    after(async () => {
      await harness.app.close();
    });

    it('accepts POST /tasks with 202 and the derived id', async () => {
      const body = taskBody();

      const response = await handler(payload.event({ method: 'POST', path: '/tasks', body }), lambdaContext());

      assert.equal(response.statusCode, 202);
      assert.deepEqual(JSON.parse(response.body), { id: deriveJobId(body.url as string, ['thumbnail']) });
      assert.equal(harness.publisher.published.length, 1);
    });

    it('refuses a bad task with a 400 naming the field', async () => {
      const response = await handler(
        payload.event({ method: 'POST', path: '/tasks', body: taskBody({ url: 'ftp://images.test/cat.jpg' }) }),
        lambdaContext(),
      );

      assert.equal(response.statusCode, 400);
      assert.equal(JSON.parse(response.body).field, 'url');
    });

    it('answers GET /healthz with 200 when ready', async () => {
      const response = await handler(payload.event({ method: 'GET', path: '/healthz' }), lambdaContext());

      assert.equal(response.statusCode, 200);
      assert.deepEqual(JSON.parse(response.body), { ok: true, checks: { database: 'up', broker: 'up' } });
    });

    it('passes the query string through: POST /enqueue?limit=3', async () => {
      const response = await handler(payload.event({ method: 'POST', path: '/enqueue', query: { limit: '3' } }), lambdaContext());

      assert.equal(response.statusCode, 200);
      assert.deepEqual(JSON.parse(response.body), { enqueued: 3 });
    });

    it('returns sample JPEGs base64-encoded', async () => {
      const response = await handler(payload.event({ method: 'GET', path: '/samples/seed/lambda/64/48' }), lambdaContext());

      assert.equal(response.statusCode, 200);
      assert.equal(response.isBase64Encoded, true);
      const metadata = await sharp(Buffer.from(response.body, 'base64')).metadata();
      assert.deepEqual([metadata.format, metadata.width, metadata.height], ['jpeg', 64, 48]);
    });
  });
}
