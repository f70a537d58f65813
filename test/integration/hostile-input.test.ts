/*
 * Hostile input, one table per way in. Every case ends as a 4xx that names the
 * field, or as the error code a job would be dead-lettered with; none writes
 * an output, none reaches an address that is not allowed, and no answer or
 * error message holds a stack trace.
 *
 * - request bodies and query strings, through the HTTP app;
 * - bodies over the limit, sent to the real api process;
 * - address spellings, redirects to them and names resolving to them, through
 *   the real fetcher inside a network namespace that can reach nothing but
 *   itself (test/support/netns-fetch-driver.ts);
 * - hostile images and lying sources, through the real fetcher and processImage.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Config } from '#adapters/config.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { FsStore } from '#adapters/storage/fs-store.ts';
import { errorCode, errorKind, errorSummary } from '#functions/errors.ts';
import { processImage } from '#functions/process-image.ts';
import { FakeClock, jobContext, MemoryLogger } from '#test/fakes/support.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { freePort } from '#test/support/free-port.ts';
import { httpAppWithFakes, taskBody } from '#test/support/http-app-harness.ts';
import { firstPixel, htmlBytes, jpegOf } from '#test/support/image-factory.ts';
import { createNetworkNamespace, type NetworkNamespace } from '#test/support/network-namespace.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import type { DriverCase, DriverReport, DriverResult } from '#test/support/netns-fetch-driver.ts';
import { waitUntil } from '#test/support/wait-until.ts';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

/** A stack trace, as V8 prints its frames, or a source location. */
const STACK_TRACE = /\n\s*at |\bat [\w.<>]+ \(|node:internal|\.[cm]?[jt]s:\d+:\d+/;

function assertNoStackTrace(text: string, what: string): void {
  assert.doesNotMatch(text, STACK_TRACE, `${what} holds a stack trace: ${text}`);
  assert.doesNotMatch(text, /"stack"/, `${what} holds a stack: ${text}`);
}

// ---------------------------------------------------------------------------
// Request bodies and query strings
// ---------------------------------------------------------------------------

interface HttpCase {
  readonly name: string;
  readonly url?: string;
  /** A value to send as JSON, or raw text with its content type. */
  readonly body?: unknown;
  readonly raw?: { readonly text: string; readonly contentType: string };
  readonly status: number;
  readonly field: string;
}

const huge = (length: number) => 'a'.repeat(length);

const HTTP_CASES: readonly HttpCase[] = [
  { name: 'ops as a string, not a list', body: taskBody({ ops: 'thumbnail' }), status: 400, field: 'ops' },
  { name: 'ops as an object', body: taskBody({ ops: { 0: 'thumbnail' } }), status: 400, field: 'ops' },
  { name: 'ops empty', body: taskBody({ ops: [] }), status: 400, field: 'ops' },
  { name: 'an op as a number', body: taskBody({ ops: [1] }), status: 400, field: 'ops[0]' },
  { name: 'an unknown op', body: taskBody({ ops: ['thumbnail', 'rm -rf'] }), status: 400, field: 'ops[1]' },
  { name: 'id as a number', body: taskBody({ id: 42 }), status: 400, field: 'id' },
  { name: 'id as a boolean', body: taskBody({ id: true }), status: 400, field: 'id' },
  { name: 'id that climbs out of the directory', body: taskBody({ id: '../x' }), status: 400, field: 'id' },
  { name: 'id with a slash', body: taskBody({ id: 'a/b' }), status: 400, field: 'id' },
  { name: 'id with a NUL byte', body: taskBody({ id: 'x\u0000.jpg' }), status: 400, field: 'id' },
  { name: 'id empty', body: taskBody({ id: '' }), status: 400, field: 'id' },
  { name: 'id of 10 000 characters', body: taskBody({ id: huge(10_000) }), status: 400, field: 'id' },
  { name: 'url as a number', body: taskBody({ url: 42 }), status: 400, field: 'url' },
  { name: 'url null', body: taskBody({ url: null }), status: 400, field: 'url' },
  { name: 'url as an object', body: taskBody({ url: { href: 'https://images.test/x.jpg' } }), status: 400, field: 'url' },
  { name: 'url missing', body: { ops: ['thumbnail'] }, status: 400, field: 'url' },
  { name: 'url of 10 000 characters', body: taskBody({ url: `https://images.test/${huge(10_000)}` }), status: 400, field: 'url' },
  { name: 'url file:///etc/passwd', body: taskBody({ url: 'file:///etc/passwd' }), status: 400, field: 'url' },
  { name: 'url javascript:', body: taskBody({ url: 'javascript:alert(1)' }), status: 400, field: 'url' },
  { name: 'url data:', body: taskBody({ url: 'data:image/png;base64,iVBORw0KGgo=' }), status: 400, field: 'url' },
  { name: 'url gopher:', body: taskBody({ url: 'gopher://images.test/x' }), status: 400, field: 'url' },
  { name: 'url ftp:', body: taskBody({ url: 'ftp://images.test/x.jpg' }), status: 400, field: 'url' },
  { name: 'url with credentials', body: taskBody({ url: 'https://user:secret@images.test/x.jpg' }), status: 400, field: 'url' },
  { name: 'url with a user name only', body: taskBody({ url: 'https://admin@images.test/x.jpg' }), status: 400, field: 'url' },
  { name: 'url without a host', body: taskBody({ url: 'http://' }), status: 400, field: 'url' },
  { name: 'url with a leading space', body: taskBody({ url: ' https://images.test/x.jpg' }), status: 400, field: 'url' },
  { name: 'an unknown field', body: taskBody({ priority: 'high' }), status: 400, field: 'priority' },
  { name: 'a body that is a list', body: [taskBody()], status: 400, field: 'body' },
  { name: 'a body that is a string', body: 'https://images.test/x.jpg', status: 400, field: 'body' },
  { name: 'a body that is null', body: null, status: 400, field: 'body' },
  { name: 'JSON cut short', raw: { text: '{"url": "https://images.test/x.jpg"', contentType: 'application/json' }, status: 400, field: 'body' },
  { name: 'a __proto__ key', raw: { text: '{"url":"https://images.test/x.jpg","__proto__":{"admin":true}}', contentType: 'application/json' }, status: 400, field: 'body' },
  { name: 'a constructor.prototype key', raw: { text: '{"url":"https://images.test/x.jpg","constructor":{"prototype":{"admin":true}}}', contentType: 'application/json' }, status: 400, field: 'body' },
  { name: 'a body that is not JSON', raw: { text: 'url=https://images.test/x.jpg', contentType: 'application/x-www-form-urlencoded' }, status: 415, field: 'content-type' },
  { name: 'a body over the limit', body: taskBody({ url: `https://images.test/${huge(64 * 1024)}` }), status: 413, field: 'body' },
  { name: 'limit that is not a number', url: '/enqueue?limit=abc', status: 400, field: 'limit' },
  { name: 'limit negative', url: '/enqueue?limit=-1', status: 400, field: 'limit' },
  { name: 'limit over the maximum', url: '/enqueue?limit=1000000', status: 400, field: 'limit' },
  { name: 'limit given twice', url: '/enqueue?limit=1&limit=2', status: 400, field: 'limit' },
  { name: 'a misspelt query key', url: '/enqueue?limt=5', status: 400, field: 'limt' },
];

describe('hostile request bodies and query strings', () => {
  for (const each of HTTP_CASES) {
    it(`${each.name}: ${each.status} naming ${each.field}, nothing published`, async () => {
      const { app, publisher, images } = httpAppWithFakes({ rows: 3 });
      const payload = each.raw ? each.raw.text : each.body === undefined ? undefined : JSON.stringify(each.body);
      const contentType = each.raw?.contentType ?? 'application/json';

      const response = await app.inject({
        method: 'POST',
        url: each.url ?? '/tasks',
        ...(payload === undefined ? {} : { payload, headers: { 'content-type': contentType } }),
      });

      assert.equal(response.statusCode, each.status, response.body);
      const body = response.json<{ error: string; field?: string; message: string }>();
      assert.equal(body.field, each.field, response.body);
      if (each.status === 400 && !each.raw) assert.equal(body.error, 'INVALID_INPUT');
      assertNoStackTrace(response.body, 'the answer');
      assert.deepEqual(publisher.published, []);
      assert.ok([...images.rows.values()].every((row) => !row.enqueued), 'no row was enqueued');
    });
  }

  it('still coerces query strings: ?limit=2 enqueues two rows', async () => {
    const { app, publisher } = httpAppWithFakes({ rows: 3 });

    const response = await app.inject({ method: 'POST', url: '/enqueue?limit=2' });

    assert.deepEqual([response.statusCode, response.json()], [200, { enqueued: 2 }]);
    assert.equal(publisher.published.length, 2);
  });
});

// ---------------------------------------------------------------------------
// Bodies over the limit, sent to the real api process
// ---------------------------------------------------------------------------

describe('a 2 MB body sent to the real api process (dist/http.mjs)', () => {
  // A client in another process: in one process the server always reads the body
  // before the client can see a reset, and the EPIPE this guards against never shows.
  let api: RunningProcess;
  let origin: string;
  const twoMegabytes = JSON.stringify(taskBody({ url: `https://images.test/${huge(2 * 1024 * 1024)}` }));

  before(async () => {
    const [port, nothingListens] = [await freePort(), await freePort()];
    api = startNodeProcess('dist/http.mjs', {
      HOST: '127.0.0.1',
      PORT: String(port),
      // Nothing listens there: the api starts anyway, and a 413 needs neither.
      DATABASE_URL: `postgres://postgres@127.0.0.1:${nothingListens}/none`,
      RABBIT_URL: `amqp://guest:guest@127.0.0.1:${nothingListens}/`,
    });
    await api.waitForLine((line) => line.msg === 'api ready');
    origin = `http://127.0.0.1:${port}`;
  });
  after(() => api.stop());

  /** One upload with Node's fetch: the status and body it read, or the error it ended with. */
  const upload = () =>
    fetch(`${origin}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: twoMegabytes }).then(
      async (response) => `${response.status} ${JSON.parse(await response.text()).field}`,
      (error: Error & { cause?: { code?: string } }) => `failed: ${error.cause?.code ?? error.message}`,
    );

  it('20 clients at once each read the 413 naming the body, none sees EPIPE', async () => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, upload));

    assert.deepEqual(outcomes, Array.from({ length: 20 }, () => '413 body'));
  });

  it('a client that sends its 2 MB in 64 KiB steps reads the 413, and the connection ends without a reset', async () => {
    const outcome = await slowUpload(origin, '/tasks', Buffer.from(twoMegabytes));

    assert.equal(outcome.error, undefined, 'the client saw no EPIPE or ECONNRESET');
    assert.match(outcome.response, /^HTTP\/1\.1 413 /);
    assert.match(outcome.response, /"field":"body"/);
  });

  it('20 clients one after another each read the 413 naming the body', async () => {
    const outcomes: string[] = [];
    for (let index = 0; index < 20; index += 1) outcomes.push(await upload());

    assert.deepEqual(outcomes, Array.from({ length: 20 }, () => '413 body'));
  });
});

/**
 * POSTs `body` with its Content-Length over a raw socket, 64 KiB at a time with
 * a pause in between, so most of it is still to come when the server answers.
 */
async function slowUpload(origin: string, path: string, body: Buffer): Promise<{ response: string; error: string | undefined }> {
  const { hostname, port } = new URL(origin);
  // Half-open, as an HTTP client is: an answer does not stop it sending the body it announced.
  const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
  let response = '';
  let error: string | undefined;
  socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
  socket.on('error', (cause: Error & { code?: string }) => (error = cause.code ?? cause.message));
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  socket.write(`POST ${path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
  try {
    for (let offset = 0; offset < body.length && !socket.destroyed; offset += 64 * 1024) {
      if (!socket.write(body.subarray(offset, offset + 64 * 1024))) await Promise.race([once(socket, 'drain'), closed]);
      await sleep(2);
    }
    if (!socket.destroyed) socket.end();
  } catch {
    // The socket failed: its 'error' listener kept the code.
  }
  await closed;
  return { response, error };
}

// ---------------------------------------------------------------------------
// Address spellings, through the real fetcher, in a network namespace
// ---------------------------------------------------------------------------

interface Spelling {
  readonly what: string;
  /** The host as written in a URL. */
  readonly host: string;
  /** The address the URL parser makes of it, which a resolver would answer. */
  readonly address: string;
}

const SPELLINGS: readonly Spelling[] = [
  { what: 'loopback in octal', host: '0177.0.0.1', address: '127.0.0.1' },
  { what: 'loopback in hex', host: '0x7f.0.0.1', address: '127.0.0.1' },
  { what: 'loopback as one hex number', host: '0x7f000001', address: '127.0.0.1' },
  { what: 'loopback as one decimal number', host: '2130706433', address: '127.0.0.1' },
  { what: 'loopback short', host: '127.1', address: '127.0.0.1' },
  { what: 'zero', host: '0', address: '0.0.0.0' },
  { what: 'the unspecified IPv4 address', host: '0.0.0.0', address: '0.0.0.0' },
  { what: 'the unspecified IPv6 address', host: '[::]', address: '::' },
  { what: 'IPv6 loopback', host: '[::1]', address: '::1' },
  { what: 'IPv4-mapped loopback', host: '[::ffff:127.0.0.1]', address: '::ffff:7f00:1' },
  { what: 'IPv4-mapped metadata', host: '[::ffff:169.254.169.254]', address: '::ffff:a9fe:a9fe' },
  { what: 'IPv4-compatible loopback', host: '[::127.0.0.1]', address: '::7f00:1' },
  { what: 'IPv4-compatible metadata', host: '[::169.254.169.254]', address: '::a9fe:a9fe' },
  { what: 'NAT64 loopback', host: '[64:ff9b::127.0.0.1]', address: '64:ff9b::7f00:1' },
  { what: 'NAT64 metadata', host: '[64:ff9b::169.254.169.254]', address: '64:ff9b::a9fe:a9fe' },
  { what: '6to4 of loopback', host: '[2002:7f00:1::1]', address: '2002:7f00:1::1' },
  { what: '6to4 of metadata', host: '[2002:a9fe:a9fe::1]', address: '2002:a9fe:a9fe::1' },
  { what: 'the IPv4 metadata address', host: '169.254.169.254', address: '169.254.169.254' },
  { what: 'the IPv4 metadata address in octal', host: '0251.0376.0251.0376', address: '169.254.169.254' },
  { what: 'the IPv4 metadata address short', host: '169.254.43518', address: '169.254.169.254' },
  { what: 'the IPv6 metadata address', host: '[fd00:ec2::254]', address: 'fd00:ec2::254' },
  { what: 'a private address', host: '10.0.0.1', address: '10.0.0.1' },
];

/** Names resolving to every distinct address above, and one answering a public and a metadata address. */
const RESOLVED: ReadonlyArray<readonly string[]> = [...new Set(SPELLINGS.map((spelling) => spelling.address))]
  .map((address) => [address])
  .concat([['8.8.8.8', '169.254.169.254']]);

const ADDRESS_CASES: readonly DriverCase[] = [
  ...SPELLINGS.map((spelling): DriverCase => ({ name: `a URL on ${spelling.what} (${spelling.host})`, form: 'direct', host: spelling.host })),
  ...SPELLINGS.map((spelling): DriverCase => ({ name: `a redirect to ${spelling.what} (${spelling.host})`, form: 'redirect', host: spelling.host })),
  ...RESOLVED.map((addresses): DriverCase => ({ name: `a name resolving to ${addresses.join(' and ')}`, form: 'name', addresses })),
];

describe('address spellings through the real fetcher, in a namespace that reaches nothing', () => {
  let namespace: NetworkNamespace | undefined;
  let report: DriverReport;
  const results = new Map<string, DriverResult>();
  const trapAddresses = [...new Set(RESOLVED.flat())];

  before(async () => {
    // Fails, and fails every case below, when namespaces cannot be made: never skipped.
    namespace = createNetworkNamespace(trapAddresses);
    const run = await namespace.run(
      [process.execPath, '--import', 'tsx', 'test/support/netns-fetch-driver.ts'],
      JSON.stringify({ trapAddresses, cases: ADDRESS_CASES }),
      { HOSTILE_NETNS: namespace.name },
    );
    assert.equal(run.code, 0, `the driver failed:\n${run.stderr}`);
    report = JSON.parse(run.stdout) as DriverReport;
    for (const result of report.results) results.set(result.name, result);
  });
  after(() => namespace?.remove());

  it('the table means what it says: each spelling parses to its address', () => {
    for (const { host, address } of SPELLINGS) {
      assert.equal(new URL(`http://${host}/`).hostname.replace(/^\[|\]$/g, ''), address, host);
    }
  });

  it('ran in its own namespace, fetched the allowed source there, and its trap catches every address', () => {
    assert.equal(report.namespace, namespace!.name);
    assert.equal(report.controlFetch, 'image/jpeg');
    assert.equal(report.controlTrapHits, trapAddresses.length);
    assert.equal(report.totalTrapHits, 0, 'no case reached a refused address');
  });

  for (const each of ADDRESS_CASES) {
    it(`refuses ${each.name} as URL_REFUSED, without a connection to it`, () => {
      const result = results.get(each.name);
      assert.ok(result, 'the driver reported this case');
      assert.deepEqual([result.code, result.kind], ['URL_REFUSED', 'permanent'], result.message);
      assert.equal(result.trapHits, 0);
      assert.deepEqual(result.sourceRequests, each.form === 'redirect' ? ['/redirect'] : []);
      assertNoStackTrace(result.message, 'the error message');
    });
  }
});

// ---------------------------------------------------------------------------
// Hostile images and lying sources, through the real fetcher and processImage
// ---------------------------------------------------------------------------

/** A raw HTTP/1.1 responder: each route writes whatever bytes it likes to the socket. */
type RawRoute = (socket: Socket) => void;

interface RawSource {
  readonly origin: string;
  readonly hostPort: string;
  /** Sockets of each path, to watch them close. */
  readonly sockets: Map<string, Socket>;
  close(): Promise<void>;
}

async function startRawSource(routes: Record<string, RawRoute>): Promise<RawSource> {
  const sockets = new Map<string, Socket>();
  const server: Server = createServer((socket) => {
    let head = '';
    socket.on('error', () => {});
    socket.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const path = head.split(' ', 2)[1] ?? '/';
      sockets.set(path, socket);
      const route = routes[path];
      if (route) route(socket);
      else socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
  });
  const { port } = await listenOnLoopback(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    sockets,
    close: async () => {
      for (const socket of sockets.values()) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A 200 with `body`, its true length, and a closed connection. */
const serve = (body: Buffer, contentType = 'image/jpeg'): RawRoute => (socket) => {
  socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]));
};

/** A PNG whose header declares `width` x `height` over a tiny, empty pixel stream: a pixel bomb. */
function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth; colour type 0 (grey), default compression, filter, no interlace
  const emptyDeflate = Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', emptyDeflate), chunk('IEND', Buffer.alloc(0))]);
}

/** A three-frame animated GIF of `width` x `height`: red, then blue, then green. */
async function animatedGif(width: number, height: number): Promise<Buffer> {
  const frame = (r: number, g: number, b: number) => sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).png().toBuffer();
  return sharp([await frame(255, 0, 0), await frame(0, 0, 255), await frame(0, 255, 0)], { join: { animated: true } }).gif().toBuffer();
}

interface ImageCase {
  readonly name: string;
  readonly path: string;
  /** The fetcher with a 1 s deadline, for sources that never finish. */
  readonly quick?: boolean;
  readonly expect: { readonly code: string; readonly kind: 'permanent' | 'transient' } | { readonly written: { readonly width: number; readonly height: number } };
}

const IMAGE_CASES: readonly ImageCase[] = [
  { name: 'a pixel bomb: a small PNG declaring 20000x20000', path: '/bomb.png', expect: { code: 'TOO_MANY_PIXELS', kind: 'permanent' } },
  { name: 'a JPEG cut in half', path: '/half.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'a JPEG that is only its first 200 bytes', path: '/head.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'JPEG magic followed by garbage', path: '/garbage.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'a 16-bit PNG, made into a JPEG', path: '/deep.png', expect: { written: { width: 64, height: 48 } } },
  { name: 'an animated GIF, whose first frame is made into a JPEG', path: '/animated.gif', expect: { written: { width: 60, height: 40 } } },
  { name: 'an SVG', path: '/drawing.svg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'an SVG served as image/jpeg, with an XML prolog', path: '/prolog.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'an HTML page served as image/jpeg', path: '/page.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'an empty body with Content-Length 0', path: '/empty.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'an empty chunked body', path: '/empty-chunked.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'a Content-Length shorter than the body (the JPEG is cut there)', path: '/length-short.jpg', expect: { code: 'NOT_AN_IMAGE', kind: 'permanent' } },
  { name: 'a Content-Length longer than the body, then the connection closes', path: '/length-long-closed.jpg', expect: { code: 'NETWORK', kind: 'transient' } },
  { name: 'a Content-Length longer than the body, on a connection held open', path: '/length-long-open.jpg', quick: true, expect: { code: 'TIMEOUT', kind: 'transient' } },
  { name: 'a body that trickles one byte a second', path: '/trickle.jpg', quick: true, expect: { code: 'TIMEOUT', kind: 'transient' } },
  { name: 'a body over FETCH_MAX_BYTES', path: '/large.jpg', expect: { code: 'TOO_LARGE', kind: 'permanent' } },
  { name: 'a 404', path: '/missing.jpg', expect: { code: 'HTTP_404', kind: 'permanent' } },
];

describe('hostile images through the real fetcher and processImage', () => {
  let source: RawSource;
  let fetcher: HttpImageFetcher;
  let quickFetcher: HttpImageFetcher;
  const trickles = new Set<NodeJS.Timeout>();

  const fetchOptions = (overrides: Partial<Config['fetch']>): Config['fetch'] => ({
    timeoutMs: 30_000,
    maxBytes: 512 * 1024,
    maxRedirects: 3,
    maxPerHost: 4,
    allowPrivate: false,
    allowHosts: [source.hostPort],
    picsumUrl: 'http://127.0.0.1:9',
    ...overrides,
  });

  before(async () => {
    const jpeg = await jpegOf(320, 240);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><image href="http://169.254.169.254/"/></svg>');
    const deep = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 100, b: 50 } } }).toColourspace('rgb16').png().toBuffer();
    assert.equal(deep[24], 16, 'the PNG header says 16 bits per sample');
    const headers = (length: number | string) => `HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: ${length}\r\n\r\n`;
    source = await startRawSource({
      '/bomb.png': serve(pngDeclaring(20_000, 20_000), 'image/png'),
      '/half.jpg': serve(jpeg.subarray(0, jpeg.length >> 1)),
      '/head.jpg': serve(jpeg.subarray(0, 200)),
      '/garbage.jpg': serve(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4096, 0x41)])),
      '/deep.png': serve(deep, 'image/png'),
      '/animated.gif': serve(await animatedGif(60, 40), 'image/gif'),
      '/drawing.svg': serve(svg, 'image/svg+xml'),
      '/prolog.jpg': serve(Buffer.concat([Buffer.from('<?xml version="1.0"?>\n'), svg])),
      '/page.jpg': serve(htmlBytes()),
      '/empty.jpg': serve(Buffer.alloc(0)),
      '/empty-chunked.jpg': (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n0\r\n\r\n'),
      '/length-short.jpg': (socket) => socket.end(Buffer.concat([Buffer.from(headers(jpeg.length >> 1)), jpeg])),
      '/length-long-closed.jpg': (socket) => socket.end(Buffer.concat([Buffer.from(headers(jpeg.length * 2)), jpeg])),
      '/length-long-open.jpg': (socket) => socket.write(Buffer.concat([Buffer.from(headers(jpeg.length * 2)), jpeg])),
      '/trickle.jpg': (socket) => {
        socket.write(headers(jpeg.length));
        let sent = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || sent >= jpeg.length) return clearInterval(timer);
          socket.write(jpeg.subarray(sent, sent + 1));
          sent += 1;
        }, 1000);
        trickles.add(timer);
        socket.once('close', () => clearInterval(timer));
      },
      '/large.jpg': serve(Buffer.concat([jpeg, Buffer.alloc(1024 * 1024)])),
    });
    fetcher = new HttpImageFetcher(fetchOptions({}));
    quickFetcher = new HttpImageFetcher(fetchOptions({ timeoutMs: 1_000 }));
  });

  after(async () => {
    for (const timer of trickles) clearInterval(timer);
    await Promise.all([fetcher.close(), quickFetcher.close()]);
    await source.close();
  });

  for (const [index, each] of IMAGE_CASES.entries()) {
    const outcome = 'written' in each.expect ? `written as a ${each.expect.written.width}x${each.expect.written.height} JPEG` : `${each.expect.code}, nothing written`;
    it(`${each.name}: ${outcome}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'imgpipe-hostile-'));
      try {
        const id = `hostile-${index}`;
        const url = `${source.origin}${each.path}`;
        const images = new MemoryImagesRepo([{ id, url }]);
        const store = await FsStore.open(dir, new MemoryLogger());
        const deps = { fetcher: each.quick ? quickFetcher : fetcher, store, images, clock: new FakeClock(), thumbnail: { size: 400, maxInputPixels: 100_000_000 } };

        const result = await processImage({ id, url, ops: ['thumbnail'] }, deps, jobContext({ isLastAttempt: true })).then(
          (done) => ({ done }),
          (error: unknown) => ({ error }),
        );

        if ('written' in each.expect) {
          assert.ok('done' in result, `expected an output, got ${'error' in result ? errorSummary(result.error) : ''}`);
          assert.deepEqual(await readdir(dir), [`${id}.jpg`]);
          const output = await readFile(join(dir, `${id}.jpg`));
          const metadata = await sharp(output).metadata();
          assert.deepEqual([metadata.format, metadata.depth, metadata.width, metadata.height], ['jpeg', 'uchar', each.expect.written.width, each.expect.written.height]);
          if (each.path === '/animated.gif') {
            const [r, g, b] = await firstPixel(output);
            assert.ok(r > 200 && g < 60 && b < 60, `the first (red) frame, got ${[r, g, b].join(',')}`);
          }
          return;
        }
        assert.ok('error' in result, 'expected the job to fail');
        assert.deepEqual([errorCode(result.error), errorKind(result.error)], [each.expect.code, each.expect.kind], errorSummary(result.error));
        assert.deepEqual(await readdir(dir), [], 'no output and no temporary file');
        assert.equal(images.rows.get(id)?.failure?.code, each.expect.code, 'the row is marked failed with the code');
        assertNoStackTrace(errorSummary(result.error), 'the dead-letter message');
        if (each.path === '/trickle.jpg') {
          await waitUntil('the trickling connection is dropped', async () => source.sockets.get(each.path)?.destroyed === true || source.sockets.get(each.path)?.readableEnded === true);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
