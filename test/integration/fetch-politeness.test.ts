import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Config } from '#adapters/config.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { errorCode, retryAfterMs } from '#functions/errors.ts';
import { jpegOf } from '#test/support/image-factory.ts';
import { waitUntil } from '#test/support/wait-until.ts';

/**
 * A source on `host` that counts the requests it is answering at once (each
 * holds a connection of its own: HTTP/1.1 without pipelining), and holds
 * every `/held/*` answer until the test lets one go. Idle keep-alive
 * connections are not counted: they download nothing.
 */
async function startCountingSource(host: string, jpeg: Buffer, routes: Record<string, (response: ServerResponse) => void> = {}) {
  const held: Array<() => void> = [];
  const requests: string[] = [];
  const stats = { inFlight: 0, maxInFlight: 0 };
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    requests.push(request.url ?? '/');
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    response.once('close', () => (stats.inFlight -= 1));
    const route = routes[request.url ?? '/'];
    if (route) return route(response);
    const answer = () => response.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    if (request.url?.startsWith('/held/')) held.push(answer);
    else answer();
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    hostPort: `${host}:${port}`,
    stats,
    requests,
    held,
    /** Answers the oldest held request. */
    releaseOne: () => held.shift()?.(),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

type CountingSource = Awaited<ReturnType<typeof startCountingSource>>;

function fetchOptions(overrides: Partial<Config['fetch']>): Config['fetch'] {
  return { timeoutMs: 30_000, maxBytes: 1024 * 1024, maxRedirects: 3, maxPerHost: 2, allowPrivate: false, allowHosts: [], picsumUrl: 'http://127.0.0.1:9', ...overrides };
}

describe('downloads per source host (FETCH_MAX_PER_HOST)', () => {
  let jpeg: Buffer;
  let busy: CountingSource;
  let other: CountingSource;
  let fetcher: HttpImageFetcher;

  before(async () => {
    jpeg = await jpegOf(32, 24);
    busy = await startCountingSource('127.0.0.1', jpeg);
    // Another host: 127.0.0.2 is loopback too, and a host of its own to the limit.
    other = await startCountingSource('127.0.0.2', jpeg);
    fetcher = new HttpImageFetcher(fetchOptions({ maxPerHost: 2, allowHosts: [busy.hostPort, other.hostPort] }));
  });

  after(async () => {
    await fetcher.close();
    await Promise.all([busy.close(), other.close()]);
  });

  it('holds six downloads from one host to two at a time, lets another host through, and finishes all', async () => {
    const signal = new AbortController().signal;
    const downloads = Array.from({ length: 6 }, (_, index) => fetcher.fetch(`${busy.origin}/held/${index}.jpg`, signal));
    await waitUntil('two downloads reach the busy host', async () => busy.stats.inFlight === 2);

    // Asked after the six, answered while four of them still wait for a slot.
    const elsewhere = await fetcher.fetch(`${other.origin}/free.jpg`, signal);
    assert.equal(elsewhere.contentType, 'image/jpeg');
    assert.equal(busy.requests.length, 2, 'the other four have not reached the busy host');

    for (let answered = 1; answered <= 6; answered += 1) {
      busy.releaseOne();
      const expected = Math.min(2, 6 - answered);
      await waitUntil(`${answered} answered, ${expected} in flight`, async () => busy.requests.length === Math.min(6, answered + 2) && busy.stats.inFlight === expected && busy.held.length === expected);
    }
    const images = await Promise.all(downloads);

    assert.equal(images.length, 6);
    assert.equal(busy.stats.maxInFlight, 2);
  });

  it('a download waiting for its host slot leaves the line when the job is aborted, and never reaches the host', async () => {
    const signal = new AbortController().signal;
    const holding = [0, 1].map((index) => fetcher.fetch(`${busy.origin}/held/holding-${index}.jpg`, signal));
    await waitUntil('both slots are taken', async () => busy.stats.inFlight === 2);
    const abort = new AbortController();
    const before = busy.requests.length;

    const waiting = fetcher.fetch(`${busy.origin}/held/waiting.jpg`, abort.signal);
    abort.abort(new Error('shutting down'));

    await assert.rejects(waiting, { message: 'shutting down' });
    busy.releaseOne();
    busy.releaseOne();
    await Promise.all(holding);
    // A fresh download gets a slot at once: the aborted one did not keep it.
    await fetcher.fetch(`${busy.origin}/after.jpg`, signal);
    assert.deepEqual(busy.requests.slice(before), ['/after.jpg']);
  });
});

describe('Retry-After from the source', () => {
  let source: CountingSource;
  let fetcher: HttpImageFetcher;

  before(async () => {
    source = await startCountingSource('127.0.0.1', await jpegOf(8, 8), {
      '/limited': (response) => response.writeHead(429, { 'retry-after': '7' }).end(),
      '/maintenance': (response) => response.writeHead(503, { 'retry-after': new Date(Date.now() + 120_000).toUTCString() }).end(),
      '/broken': (response) => response.writeHead(500, { 'retry-after': '7' }).end(),
      '/plain-busy': (response) => response.writeHead(503).end(),
    });
    fetcher = new HttpImageFetcher(fetchOptions({ allowHosts: [source.hostPort] }));
  });

  after(async () => {
    await fetcher.close();
    await source.close();
  });

  const failure = (path: string) =>
    fetcher.fetch(`${source.origin}${path}`, new AbortController().signal).then(
      () => assert.fail('expected the fetch to fail'),
      (error: unknown) => ({ code: errorCode(error), retryAfterMs: retryAfterMs(error) }),
    );

  it('carries the seconds of a 429 on the transient error', async () => {
    assert.deepEqual(await failure('/limited'), { code: 'HTTP_429', retryAfterMs: 7000 });
  });

  it('carries the date of a 503 as the time left until then', async () => {
    const { code, retryAfterMs: waitMs } = await failure('/maintenance');

    assert.equal(code, 'HTTP_503');
    assert.ok(waitMs !== undefined && waitMs > 100_000 && waitMs <= 120_000, `about two minutes, got ${waitMs}`);
  });

  it('ignores Retry-After on other statuses, and carries nothing when there is none', async () => {
    assert.deepEqual(await failure('/broken'), { code: 'HTTP_500', retryAfterMs: undefined });
    assert.deepEqual(await failure('/plain-busy'), { code: 'HTTP_503', retryAfterMs: undefined });
  });
});
