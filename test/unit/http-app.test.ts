import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { LightMyRequestResponse } from 'fastify';
import { PermanentError } from '#functions/errors.ts';
import { deriveJobId, MAX_URL_LENGTH } from '#functions/job.ts';
import { DEFAULT_BODY_LIMIT } from '#adapters/http/build-http-app.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';
import { httpAppWithFakes, taskBody, type HttpAppHarness } from '#test/support/http-app-harness.ts';

class PermanentlyRefusingPublisher extends MemoryPublisher {
  override async publish(): Promise<void> {
    throw new PermanentError('MESSAGE_TOO_LARGE', 'the broker refuses messages this large');
  }
}

interface ErrorBody {
  error: string;
  field?: string;
  message: string;
}

function errorOf(response: LightMyRequestResponse): ErrorBody {
  return response.json<ErrorBody>();
}

describe('buildHttpApp', () => {
  let harness: HttpAppHarness;

  afterEach(async () => {
    await harness?.app.close();
  });

  function postTask(body: unknown) {
    return harness.app.inject({ method: 'POST', url: '/tasks', payload: body as Record<string, unknown> });
  }

  describe('POST /enqueue', () => {
    it('enqueues 200 rows when no limit is given', async () => {
      harness = httpAppWithFakes({ rows: 250 });

      const response = await harness.app.inject({ method: 'POST', url: '/enqueue' });

      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { enqueued: 200 });
      assert.equal(harness.publisher.published.length, 200);
    });

    it('enqueues up to the given limit, then only what is left', async () => {
      harness = httpAppWithFakes({ rows: 7 });

      const first = await harness.app.inject({ method: 'POST', url: '/enqueue?limit=5' });
      const second = await harness.app.inject({ method: 'POST', url: '/enqueue?limit=5' });

      assert.deepEqual([first.json(), second.json()], [{ enqueued: 5 }, { enqueued: 2 }]);
    });

    it('accepts an empty JSON body', async () => {
      harness = httpAppWithFakes({ rows: 3 });

      const response = await harness.app.inject({ method: 'POST', url: '/enqueue', headers: { 'content-type': 'application/json' } });

      assert.deepEqual(response.json(), { enqueued: 3 });
    });

    for (const limit of ['0', '10001', 'abc', '2.5']) {
      it(`refuses limit=${limit} with a 400 naming limit`, async () => {
        harness = httpAppWithFakes({ rows: 3 });

        const response = await harness.app.inject({ method: 'POST', url: `/enqueue?limit=${limit}` });

        assert.equal(response.statusCode, 400);
        assert.equal(errorOf(response).error, 'INVALID_INPUT');
        assert.equal(errorOf(response).field, 'limit');
        assert.match(errorOf(response).message, /^limit: /);
        assert.equal(harness.publisher.published.length, 0);
      });
    }

    it('refuses an unknown query parameter rather than enqueueing the default', async () => {
      harness = httpAppWithFakes({ rows: 3 });

      const response = await harness.app.inject({ method: 'POST', url: '/enqueue?limt=1' });

      assert.equal(response.statusCode, 400);
      assert.equal(errorOf(response).field, 'limt');
      assert.equal(harness.publisher.published.length, 0);
    });

    it('answers 503 with retry-after when the broker refuses, and leaves the rows pending', async () => {
      harness = httpAppWithFakes({ rows: 3 });
      harness.publisher.refuse = true;

      const refused = await harness.app.inject({ method: 'POST', url: '/enqueue' });
      harness.publisher.refuse = false;
      const retried = await harness.app.inject({ method: 'POST', url: '/enqueue' });

      assert.equal(refused.statusCode, 503);
      assert.equal(refused.headers['retry-after'], '5');
      assert.equal(errorOf(refused).error, 'PUBLISH_REFUSED');
      assert.deepEqual(retried.json(), { enqueued: 3 });
    });

    it('answers 503 naming the code when the database is down', async () => {
      harness = httpAppWithFakes({ rows: 3 });
      harness.images.down = true;

      const response = await harness.app.inject({ method: 'POST', url: '/enqueue' });

      assert.equal(response.statusCode, 503);
      assert.equal(errorOf(response).error, 'DATABASE_UNAVAILABLE');
    });

    it('answers 500 with a generic message for an unclassified failure', async () => {
      harness = httpAppWithFakes({ rows: 3 });
      harness.images.failWith = new Error('a bug with a secret in it');

      const response = await harness.app.inject({ method: 'POST', url: '/enqueue' });

      assert.equal(response.statusCode, 500);
      assert.deepEqual(response.json(), { error: 'INTERNAL', message: 'internal error' });
    });
  });

  describe('POST /tasks', () => {
    const OUTPUT = { name: 'w640', width: 640, format: 'webp' };

    it('accepts a task with 202 and publishes it under an id derived from url and ops', async () => {
      harness = httpAppWithFakes();
      const body = taskBody();

      const response = await postTask(body);

      assert.equal(response.statusCode, 202);
      const { id } = response.json<{ id: string }>();
      assert.equal(id, deriveJobId(body.url as string, ['thumbnail']));
      assert.deepEqual(harness.publisher.published, [{ id, url: body.url, ops: ['thumbnail'] }]);
    });

    it('derives the same id for the same url and ops, ops given or defaulted', async () => {
      harness = httpAppWithFakes();

      const ids = await Promise.all([postTask(taskBody()), postTask(taskBody()), postTask(taskBody({ ops: undefined }))]);

      const [first, second, defaulted] = ids.map((response) => response.json<{ id: string }>().id);
      assert.equal(first, second);
      assert.equal(first, defaulted);
    });

    it('derives different ids for different urls', async () => {
      harness = httpAppWithFakes();

      const a = await postTask(taskBody({ url: 'https://images.test/a.jpg' }));
      const b = await postTask(taskBody({ url: 'https://images.test/b.jpg' }));

      assert.notEqual(a.json<{ id: string }>().id, b.json<{ id: string }>().id);
    });

    it('echoes the id it was given', async () => {
      harness = httpAppWithFakes();

      const response = await postTask(taskBody({ id: 'holiday_2024-01' }));

      assert.equal(response.statusCode, 202);
      assert.deepEqual(response.json(), { id: 'holiday_2024-01' });
      assert.equal(harness.publisher.published[0]?.id, 'holiday_2024-01');
    });

    const refusals: Array<{ name: string; body: unknown; field: RegExp; message?: RegExp }> = [
      { name: 'an id that is a path', body: taskBody({ id: '../etc' }), field: /^id$/ },
      { name: 'an id of 129 characters', body: taskBody({ id: 'a'.repeat(129) }), field: /^id$/ },
      { name: 'an unknown op', body: taskBody({ ops: ['thumbnail', 'sepia'] }), field: /^ops\[1\]$/ },
      { name: 'an empty op list', body: taskBody({ ops: [] }), field: /^ops$/ },
      { name: 'an ftp url', body: taskBody({ url: 'ftp://images.test/cat.jpg' }), field: /^url$/, message: /^url: must use http or https$/ },
      { name: 'a url that is not a URL', body: taskBody({ url: 'http://' }), field: /^url$/ },
      {
        name: `a url of ${MAX_URL_LENGTH + 1} characters`,
        body: taskBody({ url: `https://images.test/${'x'.repeat(MAX_URL_LENGTH + 1 - 'https://images.test/'.length)}` }),
        field: /^url$/,
      },
      { name: 'a missing url', body: { ops: ['thumbnail'] }, field: /^url$/, message: /^url: is required$/ },
      { name: 'an unknown field', body: taskBody({ priority: 'high' }), field: /^priority$/ },
      { name: 'a body that is not an object', body: ['https://images.test/cat.jpg'], field: /^body$/ },
      {
        name: 'an output quality out of range',
        body: taskBody({ ops: undefined, outputs: [OUTPUT, { ...OUTPUT, name: 'b' }, { ...OUTPUT, name: 'c', quality: 101 }] }),
        field: /^outputs\[2\]\.quality$/,
        message: /^outputs\[2\]\.quality: must be at most 100$/,
      },
      { name: 'an output without a side', body: taskBody({ ops: undefined, outputs: [{ name: 'a', format: 'webp' }] }), field: /^outputs\[0\]$/ },
      { name: 'a width given as a string', body: taskBody({ ops: undefined, outputs: [{ ...OUTPUT, width: '640' }] }), field: /^outputs\[0\]\.width$/ },
      { name: 'two outputs of one name', body: taskBody({ ops: undefined, outputs: [OUTPUT, OUTPUT] }), field: /^outputs\[1\]\.name$/ },
      { name: 'ops and outputs together', body: taskBody({ outputs: [OUTPUT] }), field: /^ops$/ },
    ];
    for (const refusal of refusals) {
      it(`refuses ${refusal.name} with a 400 naming the field`, async () => {
        harness = httpAppWithFakes();

        const response = await postTask(refusal.body);

        assert.equal(response.statusCode, 400);
        const body = errorOf(response);
        assert.equal(body.error, 'INVALID_INPUT');
        assert.match(body.field ?? '', refusal.field);
        assert.ok(body.message.startsWith(`${body.field}: `), body.message);
        if (refusal.message) assert.match(body.message, refusal.message);
        assert.equal(harness.publisher.published.length, 0);
      });
    }

    it('accepts a task with outputs and publishes it with their defaults filled in', async () => {
      harness = httpAppWithFakes();

      const response = await postTask(taskBody({ ops: undefined, id: 'set-1', outputs: [OUTPUT] }));

      assert.equal(response.statusCode, 202);
      assert.deepEqual(harness.publisher.published, [
        {
          id: 'set-1',
          url: 'https://images.test/photos/cat.jpg',
          outputs: [{ ...OUTPUT, fit: 'inside', quality: 80, strip: true, withoutEnlargement: true, animated: false }],
        },
      ]);
    });

    it(`accepts a url of exactly ${MAX_URL_LENGTH} characters`, async () => {
      harness = httpAppWithFakes();
      const url = `https://images.test/${'x'.repeat(MAX_URL_LENGTH - 'https://images.test/'.length)}`;

      const response = await postTask(taskBody({ url }));

      assert.equal(response.statusCode, 202);
    });

    it('answers 413 for a body over the limit', async () => {
      harness = httpAppWithFakes();

      const response = await postTask(taskBody({ url: `https://images.test/${'x'.repeat(DEFAULT_BODY_LIMIT)}` }));

      assert.equal(response.statusCode, 413);
      assert.equal(harness.publisher.published.length, 0);
    });

    it('answers 415 for a body that is not JSON', async () => {
      harness = httpAppWithFakes();

      const response = await harness.app.inject({
        method: 'POST',
        url: '/tasks',
        headers: { 'content-type': 'text/plain' },
        payload: 'https://images.test/cat.jpg',
      });

      assert.equal(response.statusCode, 415);
    });

    it('answers 400 for malformed JSON', async () => {
      harness = httpAppWithFakes();

      const response = await harness.app.inject({
        method: 'POST',
        url: '/tasks',
        headers: { 'content-type': 'application/json' },
        payload: '{"url": ',
      });

      assert.equal(response.statusCode, 400);
    });

    it('answers 503 with retry-after when the broker refuses', async () => {
      harness = httpAppWithFakes();
      harness.publisher.refuse = true;

      const response = await postTask(taskBody());

      assert.equal(response.statusCode, 503);
      assert.equal(response.headers['retry-after'], '5');
      assert.equal(errorOf(response).error, 'PUBLISH_REFUSED');
      assert.doesNotMatch(errorOf(response).message, /refused the messages/, 'a 5xx message stays generic');
    });
  });

  describe('error mapping', () => {
    it('answers 422 with the code and the message for a permanent failure', async () => {
      harness = httpAppWithFakes({ publisher: new PermanentlyRefusingPublisher() });

      const response = await postTask(taskBody());

      assert.equal(response.statusCode, 422);
      assert.deepEqual(response.json(), { error: 'MESSAGE_TOO_LARGE', message: 'the broker refuses messages this large' });
    });
  });

  describe('GET /healthz', () => {
    it('is ready when the database and the broker answer', async () => {
      harness = httpAppWithFakes();

      const response = await harness.app.inject({ method: 'GET', url: '/healthz' });

      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { ok: true, checks: { database: 'up', broker: 'up' } });
    });

    it('answers 503 naming the broker when it is down', async () => {
      harness = httpAppWithFakes();
      harness.publisher.refuse = true;

      const response = await harness.app.inject({ method: 'GET', url: '/healthz?probe=ready' });

      assert.equal(response.statusCode, 503);
      const report = response.json<{ ok: boolean; checks: Record<string, string> }>();
      assert.equal(report.ok, false);
      assert.equal(report.checks.database, 'up');
      assert.match(report.checks.broker ?? '', /^down: /);
    });

    it('answers 503 naming the database when it is down', async () => {
      harness = httpAppWithFakes();
      harness.images.down = true;

      const response = await harness.app.inject({ method: 'GET', url: '/healthz' });

      assert.equal(response.statusCode, 503);
      const report = response.json<{ checks: Record<string, string> }>();
      assert.match(report.checks.database ?? '', /^down: /);
      assert.equal(report.checks.broker, 'up');
    });

    it('is live even when every dependency is down', async () => {
      harness = httpAppWithFakes();
      harness.images.down = true;
      harness.publisher.refuse = true;

      const response = await harness.app.inject({ method: 'GET', url: '/healthz?probe=live' });

      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { ok: true });
    });

    it('refuses an unknown probe with a 400 naming probe', async () => {
      harness = httpAppWithFakes();

      const response = await harness.app.inject({ method: 'GET', url: '/healthz?probe=deep' });

      assert.equal(response.statusCode, 400);
      assert.equal(errorOf(response).field, 'probe');
    });
  });

  describe('unknown routes', () => {
    it('answers 404 in JSON', async () => {
      harness = httpAppWithFakes();

      const response = await harness.app.inject({ method: 'GET', url: '/admin?x=1' });

      assert.equal(response.statusCode, 404);
      assert.deepEqual(response.json(), { error: 'NOT_FOUND', message: 'no route for GET /admin' });
    });
  });
});

describe('GET /samples/seed/:seed/:width/:height', () => {
  let harness: HttpAppHarness;

  before(() => {
    harness = httpAppWithFakes();
  });

  after(async () => {
    await harness.app.close();
  });

  function getSample(path: string, headers: Record<string, string> = {}) {
    return harness.app.inject({ method: 'GET', url: `/samples/seed/${path}`, headers });
  }

  it('answers the same JPEG bytes every time, cacheable forever', async () => {
    const first = await getSample('42/640/480');
    const second = await getSample('42/640/480');

    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['content-type'], 'image/jpeg');
    assert.equal(first.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.ok(first.headers.etag);
    assert.equal(second.headers.etag, first.headers.etag);
    assert.ok(first.rawPayload.equals(second.rawPayload));
  });

  for (const [width, height] of [
    [640, 480],
    [300, 500],
    [1, 1],
  ] as const) {
    it(`is a valid ${width}x${height} JPEG when asked for ${width}x${height}`, async () => {
      const response = await getSample(`shape/${width}/${height}`);

      const metadata = await sharp(response.rawPayload).metadata();
      assert.equal(metadata.format, 'jpeg');
      assert.deepEqual([metadata.width, metadata.height], [width, height]);
    });
  }

  it('answers different bytes for different seeds', async () => {
    const a = await getSample('alpha/320/240');
    const b = await getSample('beta/320/240');

    assert.ok(!a.rawPayload.equals(b.rawPayload));
  });

  it('answers 304 when the client already has it', async () => {
    const first = await getSample('42/64/48');

    const revalidated = await getSample('42/64/48', { 'if-none-match': String(first.headers.etag) });

    assert.equal(revalidated.statusCode, 304);
    assert.equal(revalidated.rawPayload.length, 0);
  });

  for (const [path, field] of [
    ['42/5000/480', 'width'],
    ['42/640/0', 'height'],
    ['42/wide/480', 'width'],
    ['a.b/640/480', 'seed'],
    [`${'s'.repeat(65)}/640/480`, 'seed'],
  ] as const) {
    it(`refuses ${path} with a 400 naming ${field}`, async () => {
      const response = await getSample(path);

      assert.equal(response.statusCode, 400);
      assert.equal(errorOf(response).field, field);
    });
  }
});
