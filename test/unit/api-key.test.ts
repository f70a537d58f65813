import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { InjectOptions } from 'fastify';
import { ApiMetrics } from '#adapters/http/api-metrics.ts';
import { REDACTED_PATHS } from '#adapters/logger.ts';
import { httpAppWithFakes, taskBody, type HttpAppHarness } from '#test/support/http-app-harness.ts';

const KEY = 'k3y-that-must-never-be-logged';

/** One request per route that needs the key. */
const ROUTES: readonly InjectOptions[] = [
  { method: 'POST', url: '/enqueue?limit=1' },
  { method: 'POST', url: '/tasks', payload: taskBody({ id: 'cat' }) },
  { method: 'GET', url: '/jobs/1' },
  { method: 'GET', url: '/dlq' },
  { method: 'POST', url: '/dlq/replay', payload: { dryRun: true } },
];

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const basic = (user: string, key: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}` });

describe('API_KEY', () => {
  let harness: HttpAppHarness;

  afterEach(async () => {
    await harness?.app.close();
  });

  const send = (request: InjectOptions, headers: Record<string, string> = {}) =>
    harness.app.inject({ ...request, headers: { ...request.headers, ...headers } });

  for (const request of ROUTES) {
    const name = `${request.method} ${request.url}`;

    it(`${name}: 401 with WWW-Authenticate without the key or with a wrong one`, async () => {
      harness = httpAppWithFakes({ rows: 1, app: { apiKey: KEY } });

      for (const headers of [{}, bearer('wrong'), basic('me', 'wrong'), bearer(''), { authorization: KEY }]) {
        const response = await send(request, headers);

        assert.equal(response.statusCode, 401, JSON.stringify(headers));
        assert.deepEqual(response.headers['www-authenticate'], ['Bearer realm="imgpipe"', 'Basic realm="imgpipe", charset="UTF-8"']);
        assert.equal(response.json().error, 'UNAUTHORIZED');
      }
    });

    it(`${name}: answers as an open api does, given the key as a Bearer token or a Basic password`, async () => {
      harness = httpAppWithFakes({ rows: 1 });
      const open = await send(request);
      await harness.app.close();

      for (const headers of [bearer(KEY), basic('anyone', KEY), basic('', KEY)]) {
        harness = httpAppWithFakes({ rows: 1, app: { apiKey: KEY } });
        const response = await send(request, headers);
        await harness.app.close();

        assert.equal(response.statusCode, open.statusCode, `${JSON.stringify(headers)}: ${response.body}`);
      }
    });
  }

  it('guards every route the OpenAPI document lists, except the open ones', async () => {
    harness = httpAppWithFakes({ rows: 1, app: { apiKey: KEY }, metrics: new ApiMetrics() });
    const document = (await send({ method: 'GET', url: '/openapi.json' }, bearer(KEY))).json<{ paths: Record<string, Record<string, unknown>> }>();
    const routes = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => [method.toUpperCase(), path] as const));

    assert.ok(routes.length >= 12, `${routes.length} routes`);
    for (const [method, path] of routes) {
      const url = path.replace('{file}', '1.jpg').replace(/\{[a-z]+\}/g, '1');
      const response = await send({ method: method as 'GET' | 'POST', url });
      const open = path === '/healthz' || path.startsWith('/samples/');
      assert.equal(response.statusCode === 401, !open, `${method} ${url} answered ${response.statusCode}`);
    }
    assert.equal((await send({ method: 'GET', url: '/docs/' })).statusCode, 401, 'the docs too');
  });

  it('leaves /healthz and the sample images open', async () => {
    harness = httpAppWithFakes({ app: { apiKey: KEY } });

    const health = await send({ method: 'GET', url: '/healthz?probe=live' });
    const sample = await send({ method: 'GET', url: '/samples/seed/1/32/24' });

    assert.deepEqual([health.statusCode, sample.statusCode], [200, 200]);
  });

  it('is open when no key is set', async () => {
    harness = httpAppWithFakes({ rows: 1 });

    const response = await send({ method: 'POST', url: '/enqueue' });

    assert.equal(response.statusCode, 200);
  });

  it('never writes the key to the log', async () => {
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged += chunk.toString();
        done();
      },
    });
    const logger = pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
    harness = httpAppWithFakes({ rows: 1, app: { apiKey: KEY }, logger });

    await send({ method: 'POST', url: '/enqueue' }, bearer(KEY));
    await send({ method: 'POST', url: '/enqueue' }, basic('me', KEY));
    await send({ method: 'POST', url: '/enqueue' }, bearer(`${KEY}-wrong`));
    logger.info({ req: { headers: { ...bearer(KEY) } } }, 'a request logged with its headers');

    assert.match(logged, /incoming request/);
    assert.match(logged, /\[redacted\]/);
    assert.doesNotMatch(logged, new RegExp(KEY));
    assert.doesNotMatch(logged, new RegExp(Buffer.from(`me:${KEY}`).toString('base64')));
  });
});
