/*
 * Runs refused-address cases through the real HttpImageFetcher, inside a network
 * namespace that test/support/network-namespace.ts made: only `lo` is up, every
 * other route is a blackhole, and every address the cases name is bound to `lo`.
 * A trap server listens on all of them on one port, so a guard that let a
 * connection through is counted, and no packet can leave the machine either way.
 *
 * Reads the cases as JSON on stdin; writes one JSON {@link DriverReport} on stdout.
 * Refuses to run outside the namespace named by HOSTILE_NETNS.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer, isIP, type AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { errorKind } from '#functions/errors.ts';
import { jpegOf } from './image-factory.ts';
import { waitUntil } from './wait-until.ts';

/** `direct`: the spelling is the URL's host; `redirect`: an allowed loopback source redirects there; `name`: a host name resolves to `addresses`. */
export type DriverCase =
  | { readonly name: string; readonly form: 'direct' | 'redirect'; readonly host: string }
  | { readonly name: string; readonly form: 'name'; readonly addresses: readonly string[] };

export interface DriverResult {
  readonly name: string;
  readonly code: string | undefined;
  readonly kind: string;
  readonly message: string;
  /** Connections the trap received during this case: any is a breach. */
  readonly trapHits: number;
  /** Requests the allowed source received during this case. */
  readonly sourceRequests: readonly string[];
}

export interface DriverReport {
  readonly namespace: string;
  /** The allowed source fetched through the same fetcher: proves a refusal is not just a dead network. */
  readonly controlFetch: string;
  /** Connections the trap received while the cases ran: any is a breach. */
  readonly totalTrapHits: number;
  /** Connections the trap counted when reached on purpose at each of its addresses. */
  readonly controlTrapHits: number;
  readonly results: readonly DriverResult[];
}

const namespace = process.env.HOSTILE_NETNS ?? '';
const current = execFileSync('ip', ['netns', 'identify', String(process.pid)], { encoding: 'utf8' }).trim();
if (namespace === '' || current !== namespace) {
  process.stderr.write(`refusing to run outside the test namespace (HOSTILE_NETNS=${namespace}, current=${current || 'none'})\n`);
  process.exit(2);
}

const cases = JSON.parse(await text(process.stdin)) as { trapAddresses: string[]; cases: DriverCase[] };

let trapHits = 0;
const trap = createTcpServer((socket) => {
  trapHits += 1;
  socket.destroy();
});
trap.listen({ port: 0, host: '::', ipv6Only: false });
await once(trap, 'listening');
const trapPort = (trap.address() as AddressInfo).port;

const jpeg = await jpegOf(16, 12);
const sourceRequests: string[] = [];
const source = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://source.invalid');
  sourceRequests.push(url.pathname);
  if (url.pathname === '/image.jpg') response.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
  else if (url.pathname === '/redirect') response.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
  else response.writeHead(404).end();
});
source.listen(0, '127.0.0.1');
await once(source, 'listening');
const sourceOrigin = `http://127.0.0.1:${(source.address() as AddressInfo).port}`;

const names = new Map<string, readonly string[]>();
const fetcher = new HttpImageFetcher(
  {
    timeoutMs: 3_000,
    maxBytes: 1024 * 1024,
    maxRedirects: 3,
    maxPerHost: 4,
    allowPrivate: false,
    allowHosts: [new URL(sourceOrigin).host],
    picsumUrl: 'http://127.0.0.1:9',
  },
  {
    resolve: async (hostname) => {
      const addresses = names.get(hostname);
      if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: isIP(address) }));
    },
  },
);

const signal = new AbortController().signal;
const controlFetch = await fetcher.fetch(`${sourceOrigin}/image.jpg`, signal).then(
  (image) => image.contentType,
  (error: Error) => `failed: ${error.message}`,
);

const results: DriverResult[] = [];
for (const [index, each] of cases.cases.entries()) {
  let url: string;
  if (each.form === 'name') {
    const hostname = `hostile-${index}.test`;
    names.set(hostname, each.addresses);
    url = `http://${hostname}:${trapPort}/x.jpg`;
  } else {
    const target = `http://${each.host}:${trapPort}/x.jpg`;
    url = each.form === 'direct' ? target : `${sourceOrigin}/redirect?to=${encodeURIComponent(target)}`;
  }
  const hitsBefore = trapHits;
  const requestsBefore = sourceRequests.length;
  const outcome = await fetcher.fetch(url, signal).then(
    () => ({ code: 'FETCHED', kind: 'none', message: 'the fetch succeeded' }),
    (error: Error & { code?: string }) => ({ code: error.code, kind: errorKind(error), message: error.message }),
  );
  results.push({ name: each.name, ...outcome, trapHits: trapHits - hitsBefore, sourceRequests: sourceRequests.slice(requestsBefore) });
}

// A breach may be counted just after its case ended: the total covers that too.
const totalTrapHits = trapHits;

// The trap must catch what a broken guard would send: reach it on purpose at every address.
for (const address of cases.trapAddresses) {
  const socket = connect(trapPort, address);
  await Promise.race([once(socket, 'connect'), once(socket, 'error')]);
  socket.destroy();
}
const expected = totalTrapHits + cases.trapAddresses.length;
await waitUntil('the trap counted every control connection', async () => trapHits >= expected, 10_000, 20).catch(() => {});
const controlTrapHits = trapHits - totalTrapHits;

await fetcher.close();
source.close();
trap.close();
const report: DriverReport = { namespace, controlFetch, totalTrapHits, controlTrapHits, results };
process.stdout.write(`${JSON.stringify(report)}\n`);
