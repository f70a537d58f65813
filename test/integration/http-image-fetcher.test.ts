import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Config } from '#adapters/config.ts';
import { HttpImageFetcher, type HttpImageFetcherOverrides } from '#adapters/fetch/http-image-fetcher.ts';
import { classifyAddress } from '#adapters/fetch/url-policy.ts';
import { errorKind } from '#functions/errors.ts';
import { freePort } from '#test/support/free-port.ts';
import { htmlBytes, jpegOf } from '#test/support/image-factory.ts';
import { waitUntil } from '#test/support/wait-until.ts';

type Route = (request: IncomingMessage, response: ServerResponse, source: ImageSource) => void;

interface ImageSource {
  readonly port: number;
  readonly origin: string;
  /** Every request path the source saw, in order. */
  readonly requests: string[];
  /** The `Host` header of every request, in order. */
  readonly hosts: string[];
  /** How many client connections are open now. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** A local image source on 127.0.0.1: `routes` by exact path, `prefixRoutes` by path prefix, 404 otherwise. */
async function startImageSource(routes: Record<string, Route> = {}, prefixRoutes: Record<string, Route> = {}): Promise<ImageSource> {
  const requests: string[] = [];
  const hosts: string[] = [];
  const server = createServer((request, response) => {
    const path = request.url ?? '/';
    requests.push(path);
    hosts.push(request.headers.host ?? '');
    const pathname = new URL(path, 'http://source.invalid').pathname;
    const route = routes[pathname] ?? Object.entries(prefixRoutes).find(([prefix]) => pathname.startsWith(prefix))?.[1];
    if (route) route(request, response, source);
    else response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const source: ImageSource = {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    hosts,
    connections: () => new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return source;
}

/** A resolver that answers nothing and remembers what it was asked: proves no outside name is looked up. */
function noDns() {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  };
  return { asked, resolve };
}

/**
 * A resolver over answers given in turn (the last one repeats), remembering what
 * it was asked: it can answer differently at check time and at connect time.
 */
function answersInTurn(hostname: string, ...answers: string[][]) {
  const asked: string[] = [];
  const resolve = async (name: string): Promise<LookupAddress[]> => {
    asked.push(name);
    const addresses = name === hostname ? answers[Math.min(asked.length, answers.length) - 1] : undefined;
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: isIP(address) }));
  };
  return { asked, resolve };
}

/** A local source whose only path, `/x.jpg`, serves `jpeg`. */
function startJpegSource(jpeg: Buffer): Promise<ImageSource> {
  return startImageSource({
    '/x.jpg': (_request, response) => {
      response.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    },
  });
}

/** Builds fetchers and closes every one it built. */
function fetcherFactory() {
  const opened: HttpImageFetcher[] = [];
  return {
    make(options: Config['fetch'], overrides?: HttpImageFetcherOverrides): HttpImageFetcher {
      const fetcher = new HttpImageFetcher(options, overrides);
      opened.push(fetcher);
      return fetcher;
    },
    closeAll: async () => {
      await Promise.all(opened.splice(0).map((fetcher) => fetcher.close()));
    },
  };
}

function fetchOptionsOf(overrides: Partial<Config['fetch']> = {}): Config['fetch'] {
  return {
    timeoutMs: 5_000,
    maxBytes: 1024 * 1024,
    maxRedirects: 3,
    maxPerHost: 8,
    allowPrivate: false,
    allowHosts: [],
    // Loopback, so no test can reach the real picsum even if the rewrite broke.
    picsumUrl: 'http://127.0.0.1:9',
    ...overrides,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<{ name: string; code: string | undefined; kind: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const { name, code, message } = error as { name: string; code?: string; message: string };
    return { name, code, kind: errorKind(error), message };
  }
  assert.fail('expected the fetch to fail');
}

const noSignal = () => new AbortController().signal;

async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  await waitUntil(what, condition, 30_000, 20);
}

describe('HttpImageFetcher against a local image source', () => {
  let jpeg: Buffer;
  let png: Buffer;
  let source: ImageSource;
  let fetcher: HttpImageFetcher;
  const fetchers = fetcherFactory();
  const MAX_BYTES = 256 * 1024;
  let endlessClosed = false;
  let endlessBodiesSentWhole = 0;

  const serve = (bytes: () => Buffer, contentType: string): Route => (_request, response) => {
    response.writeHead(200, { 'content-type': contentType }).end(bytes());
  };
  const status = (code: number): Route => (_request, response) => {
    response.writeHead(code, { 'content-type': 'text/plain' }).end(`status ${code}`);
  };
  const redirect = (code: number, location: string): Route => (_request, response) => {
    response.writeHead(code, { location }).end();
  };

  before(async () => {
    jpeg = await jpegOf(64, 48);
    png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    source = await startImageSource(
      {
        '/image.jpg': serve(() => jpeg, 'image/jpeg'),
        '/octet.bin': serve(() => png, 'application/octet-stream'),
        '/page.jpg': serve(() => htmlBytes(), 'image/jpeg'),
        '/gone': status(410),
        '/broken': status(500),
        '/busy': status(429),
        '/relative': redirect(301, 'image.jpg'),
        // Refused targets stay on loopback, so even a broken guard could not reach
        // beyond this machine; private and metadata ranges are classified in url-policy.test.ts.
        '/to-other-loopback': redirect(302, 'http://127.0.0.2/x.jpg'),
        '/to-ipv6-loopback': redirect(307, 'http://[::1]/latest/meta-data/'),
        '/to-mapped-loopback': redirect(308, 'http://[::ffff:7f00:3]/latest/meta-data/'),
        '/to-ftp': redirect(302, 'ftp://127.0.0.1/x.jpg'),
        '/slow-body': (_request, response) => {
          response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(jpeg.length) });
          response.write(jpeg.subarray(0, 100));
          // The rest never comes: the deadline must cover the body, not only the headers.
        },
        '/endless': (_request, response) => {
          response.writeHead(200, { 'content-type': 'image/jpeg' });
          response.on('close', () => (endlessClosed = true));
          const chunk = Buffer.alloc(16 * 1024, 0xff);
          let sent = 0;
          const pump = () => {
            while (!response.destroyed && sent < 64 * MAX_BYTES) {
              sent += chunk.length;
              if (!response.write(chunk)) return void response.once('drain', pump);
            }
            if (!response.destroyed) endlessBodiesSentWhole += 1;
            response.end();
          };
          pump();
        },
        '/declared-huge': (_request, response) => {
          response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(1024 * 1024 * 1024) });
          response.write(jpeg.subarray(0, 100));
        },
      },
      {
        '/hops/': (request, response) => {
          const left = Number(request.url!.split('/')[2]);
          if (left === 0) response.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
          else response.writeHead(302, { location: `/hops/${left - 1}` }).end();
        },
        '/seed/': serve(() => jpeg, 'image/jpeg'),
        '/samples/seed/': serve(() => jpeg, 'image/jpeg'),
      },
    );
    fetcher = fetchers.make(fetchOptionsOf({ allowHosts: [`127.0.0.1:${source.port}`], maxBytes: MAX_BYTES }));
  });

  after(async () => {
    await fetchers.closeAll();
    await source.close();
  });

  it('returns the bytes of a JPEG with the type sniffed from them', async () => {
    const image = await fetcher.fetch(`${source.origin}/image.jpg`, noSignal());

    assert.equal(image.contentType, 'image/jpeg');
    assert.deepEqual(Buffer.from(image.bytes), jpeg);
  });

  it('trusts the magic number, not the Content-Type the server sent', async () => {
    const image = await fetcher.fetch(`${source.origin}/octet.bin`, noSignal());

    assert.equal(image.contentType, 'image/png');
  });

  it('refuses an HTML page served as image/jpeg as NOT_AN_IMAGE', async () => {
    const failure = await failureOf(fetcher.fetch(`${source.origin}/page.jpg`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['NOT_AN_IMAGE', 'permanent']);
  });

  it('maps 404 and 410 to permanent HTTP_<status> errors', async () => {
    const missing = await failureOf(fetcher.fetch(`${source.origin}/missing.jpg`, noSignal()));
    const gone = await failureOf(fetcher.fetch(`${source.origin}/gone`, noSignal()));

    assert.deepEqual([missing.code, missing.kind], ['HTTP_404', 'permanent']);
    assert.deepEqual([gone.code, gone.kind], ['HTTP_410', 'permanent']);
  });

  it('maps 500 and 429 to transient HTTP_<status> errors', async () => {
    const broken = await failureOf(fetcher.fetch(`${source.origin}/broken`, noSignal()));
    const busy = await failureOf(fetcher.fetch(`${source.origin}/busy`, noSignal()));

    assert.deepEqual([broken.code, broken.kind], ['HTTP_500', 'transient']);
    assert.deepEqual([busy.code, busy.kind], ['HTTP_429', 'transient']);
  });

  it('times out while the body is still streaming, as a transient TIMEOUT', async () => {
    const quick = fetchers.make(fetchOptionsOf({ allowHosts: [`127.0.0.1:${source.port}`], timeoutMs: 300 }));

    const failure = await failureOf(quick.fetch(`${source.origin}/slow-body`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['TIMEOUT', 'transient']);
  });

  it("propagates the caller's abort as an abort, not as a TIMEOUT", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const failure = await failureOf(fetcher.fetch(`${source.origin}/slow-body`, controller.signal));

    assert.equal(failure.name, 'AbortError');
    assert.notEqual(failure.code, 'TIMEOUT');
  });

  it('stops reading a body without Content-Length once it passes the byte cap', async () => {
    // The body runs to 64 times the cap: the fetch must hang up once it passes the cap, not read to the end.
    const failure = await failureOf(fetcher.fetch(`${source.origin}/endless`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['TOO_LARGE', 'permanent']);
    await eventually(async () => endlessClosed, 'the server sees the response closed');
    assert.equal(endlessBodiesSentWhole, 0);
  });

  it('refuses a body whose Content-Length is over the cap without waiting for it', async () => {
    const failure = await failureOf(fetcher.fetch(`${source.origin}/declared-huge`, noSignal()));

    // The body never arrives: only an early refusal can answer before the 5 s deadline.
    assert.deepEqual([failure.code, failure.kind], ['TOO_LARGE', 'permanent']);
  });

  it('follows redirects up to the limit, relative ones included', async () => {
    const chained = await fetcher.fetch(`${source.origin}/hops/3`, noSignal());
    const relative = await fetcher.fetch(`${source.origin}/relative`, noSignal());

    assert.equal(chained.contentType, 'image/jpeg');
    assert.equal(relative.contentType, 'image/jpeg');
  });

  it('refuses a redirect chain longer than the limit without following the extra hop', async () => {
    const before = source.requests.length;

    const failure = await failureOf(fetcher.fetch(`${source.origin}/hops/4`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['TOO_MANY_REDIRECTS', 'permanent']);
    assert.deepEqual(source.requests.slice(before), ['/hops/4', '/hops/3', '/hops/2', '/hops/1']);
  });

  it('refuses redirects to addresses outside the allow-list and to non-http schemes, before connecting to them', async () => {
    for (const path of ['/to-other-loopback', '/to-ipv6-loopback', '/to-mapped-loopback', '/to-ftp']) {
      const failure = await failureOf(fetcher.fetch(`${source.origin}${path}`, noSignal()));

      assert.deepEqual([failure.code, failure.kind], ['URL_REFUSED', 'permanent'], path);
    }
  });

  it('refuses a redirect to a loopback port that is not allow-listed, and that port sees nothing', async () => {
    const other = await startImageSource({ '/image.jpg': serve(() => jpeg, 'image/jpeg') });
    const bouncer = await startImageSource({ '/bounce': redirect(302, `${other.origin}/image.jpg`) });
    try {
      const guarded = fetchers.make(fetchOptionsOf({ allowHosts: [`127.0.0.1:${bouncer.port}`] }));

      const failure = await failureOf(guarded.fetch(`${bouncer.origin}/bounce`, noSignal()));

      assert.equal(failure.code, 'URL_REFUSED');
      assert.deepEqual(bouncer.requests, ['/bounce']);
      assert.deepEqual(other.requests, []);
    } finally {
      await Promise.all([other.close(), bouncer.close()]);
    }
  });

  it('fetches picsum URLs from PICSUM_URL, same path and query, without looking up picsum.photos', async () => {
    // The resolver knows no names: were the rewrite broken, picsum.photos would be refused, never reached.
    const dns = noDns();
    const offline = fetchers.make(
      fetchOptionsOf({ allowHosts: [`127.0.0.1:${source.port}`], picsumUrl: source.origin }),
      { resolve: dns.resolve } satisfies HttpImageFetcherOverrides,
    );
    const underPrefix = fetchers.make(
      fetchOptionsOf({ allowHosts: [`127.0.0.1:${source.port}`], picsumUrl: `${source.origin}/samples` }),
      { resolve: dns.resolve },
    );
    const before = source.requests.length;

    const image = await offline.fetch('https://picsum.photos/seed/1/64/48', noSignal());
    await underPrefix.fetch('https://picsum.photos/seed/7/64/48?grayscale', noSignal());

    assert.equal(image.contentType, 'image/jpeg');
    assert.deepEqual(source.requests.slice(before), ['/seed/1/64/48', '/samples/seed/7/64/48?grayscale']);
    assert.deepEqual(dns.asked, []);
  });
});

describe('HttpImageFetcher URL policy on loopback', () => {
  let jpeg: Buffer;
  let source: ImageSource;
  const fetchers = fetcherFactory();

  before(async () => {
    jpeg = await jpegOf(32, 24);
    source = await startJpegSource(jpeg);
  });

  after(async () => {
    await fetchers.closeAll();
    await source.close();
  });

  it('refuses a loopback IP before any connection when private addresses are not allowed', async () => {
    const fetcher = fetchers.make(fetchOptionsOf());

    const failure = await failureOf(fetcher.fetch(`${source.origin}/x.jpg`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['URL_REFUSED', 'permanent']);
    assert.match(failure.message, /127\.0\.0\.1/);
    assert.deepEqual(source.requests, []);
  });

  it('fetches a loopback IP whose host:port is allow-listed', async () => {
    const fetcher = fetchers.make(fetchOptionsOf({ allowHosts: [`127.0.0.1:${source.port}`] }));

    const image = await fetcher.fetch(`${source.origin}/x.jpg`, noSignal());

    assert.deepEqual(Buffer.from(image.bytes), jpeg);
  });

  it('fetches loopback when private addresses are allowed', async () => {
    const fetcher = fetchers.make(fetchOptionsOf({ allowPrivate: true }));

    const image = await fetcher.fetch(`${source.origin}/x.jpg`, noSignal());

    assert.equal(image.contentType, 'image/jpeg');
  });

  it('refuses a host name that resolves to loopback unless that name is allow-listed', async () => {
    const url = `http://localhost:${source.port}/x.jpg`;
    const before = source.requests.length;

    const failure = await failureOf(fetchers.make(fetchOptionsOf()).fetch(url, noSignal()));
    assert.equal(failure.code, 'URL_REFUSED');
    assert.equal(source.requests.length, before);

    const image = await fetchers.make(fetchOptionsOf({ allowHosts: ['localhost'] })).fetch(url, noSignal());
    assert.equal(image.contentType, 'image/jpeg');
  });

  it('reports a refused connection as a transient NETWORK error', async () => {
    const port = await freePort();
    const fetcher = fetchers.make(fetchOptionsOf({ allowPrivate: true }));

    const failure = await failureOf(fetcher.fetch(`http://127.0.0.1:${port}/x.jpg`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['NETWORK', 'transient']);
  });
});

describe('HttpImageFetcher connections for restricted URLs', () => {
  let jpeg: Buffer;
  let source: ImageSource;
  const fetchers = fetcherFactory();
  /** Treats one loopback address as public, so the restricted path can be exercised on loopback alone. */
  const onlyAsPublic = (publicAddress: string) => (address: string) => (address === publicAddress ? 'public' : classifyAddress(address));
  const loopbackAsPublic = onlyAsPublic('127.0.0.1');

  before(async () => {
    jpeg = await jpegOf(16, 12);
    source = await startJpegSource(jpeg);
  });

  after(async () => {
    await fetchers.closeAll();
    await source.close();
  });

  it("connects to the address the policy's resolver answered, for a name the system resolver does not know", async () => {
    const dns = answersInTurn('images.test', ['127.0.0.1']);
    const fetcher = fetchers.make(fetchOptionsOf(), { resolve: dns.resolve, classify: loopbackAsPublic });
    const before = source.requests.length;

    const image = await fetcher.fetch(`http://images.test:${source.port}/x.jpg`, noSignal());

    assert.deepEqual(Buffer.from(image.bytes), jpeg);
    assert.deepEqual(source.requests.slice(before), ['/x.jpg']);
    assert.equal(source.hosts.at(-1), `images.test:${source.port}`);
    assert.ok(dns.asked.length >= 2, 'the name was resolved by the policy at check time and again to connect');
    assert.ok(dns.asked.every((name) => name === 'images.test'));
  });

  it('refuses to connect when the name answers a public address at check time and loopback at connect time', async () => {
    // `localhost` is known to the system resolver: a connection that bypassed the
    // policy's lookup would reach the local source and succeed. The "public" answer
    // is 127.0.0.2 classified as public, so no mistake here can leave loopback.
    const dns = answersInTurn('localhost', ['127.0.0.2'], ['127.0.0.1']);
    const fetcher = fetchers.make(fetchOptionsOf(), { resolve: dns.resolve, classify: onlyAsPublic('127.0.0.2') });
    const before = source.requests.length;

    const failure = await failureOf(fetcher.fetch(`http://localhost:${source.port}/x.jpg`, noSignal()));

    assert.deepEqual([failure.code, failure.kind], ['URL_REFUSED', 'permanent']);
    assert.match(failure.message, /localhost.*127\.0\.0\.1.*loopback/);
    assert.deepEqual(dns.asked, ['localhost', 'localhost']);
    assert.equal(source.requests.length, before, 'the local source saw no request');
  });

  it('closes its pooled connections on close(), and a second close() is harmless', async () => {
    const own = await startImageSource({ '/x.jpg': (_request, response) => void response.writeHead(200).end(jpeg) });
    try {
      const restricted = new HttpImageFetcher(fetchOptionsOf(), { resolve: answersInTurn('images.test', ['127.0.0.1']).resolve, classify: loopbackAsPublic });
      const allowListed = new HttpImageFetcher(fetchOptionsOf({ allowHosts: [`127.0.0.1:${own.port}`] }));
      await restricted.fetch(`http://images.test:${own.port}/x.jpg`, noSignal());
      await allowListed.fetch(`${own.origin}/x.jpg`, noSignal());
      await eventually(async () => (await own.connections()) === 2, 'both keep-alive connections are open');

      await restricted.close();
      await allowListed.close();
      await restricted.close();

      await eventually(async () => (await own.connections()) === 0, 'the source has no open connection');
    } finally {
      await own.close();
    }
  });
});
