/**
 * CPU per download on the client, for the worker's image fetcher against the
 * two ways undici offers, measured in the same run: `npm run bench:download`.
 *
 * A loopback server in its own process answers every GET with the same
 * ~150 KB body (the size of the pipeline benchmark's photos), so this
 * process's CPU is the client's alone. Variants take turns round by round, 8
 * downloads in flight, so a busy spell on a shared machine hits them alike;
 * the ratio is the median of per-round ratios to undici's `fetch`.
 *
 * - `undici fetch`: `fetch()` with a manual redirect and the body read from its
 *   web stream, as the fetcher did before;
 * - `undici request`: `request()`, the body read from its Node stream;
 * - `HttpImageFetcher`: the worker's own, with its URL policy, per-host slots,
 *   deadline and size cap.
 *
 * Prints a table; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Agent, fetch, request } from 'undici';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { median } from './pipeline/table.ts';

const BODY_BYTES = 150_000;
const IN_FLIGHT = 8;
const PER_ROUND = 2_000;
const ROUNDS = 5;

// A JPEG's magic number, so the fetcher's type sniffing accepts the body.
const SERVER = `
const body = Buffer.alloc(${BODY_BYTES}, 7); body.set([0xff, 0xd8, 0xff, 0xe0]);
const server = require('node:http').createServer((_, res) => res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const [portLine] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
const url = `http://127.0.0.1:${portLine}/photo.jpg`;

const agent = new Agent();
const fetcher = new HttpImageFetcher({
  timeoutMs: 30_000,
  maxBytes: 26_214_400,
  maxRedirects: 5,
  maxPerHost: IN_FLIGHT,
  allowPrivate: false,
  allowHosts: [`127.0.0.1:${portLine}`],
  picsumUrl: 'https://picsum.photos',
});
const never = new AbortController().signal;

const variants: Record<string, () => Promise<number>> = {
  'undici fetch': async () => {
    const response = await fetch(url, { redirect: 'manual', headers: { accept: 'image/*' }, dispatcher: agent });
    const reader = response.body!.getReader();
    let bytes = 0;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) bytes += chunk.value.byteLength;
    return bytes;
  },
  'undici request': async () => {
    const { body } = await request(url, { headers: { accept: 'image/*' }, dispatcher: agent });
    let bytes = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) bytes += chunk.byteLength;
    return bytes;
  },
  HttpImageFetcher: async () => (await fetcher.fetch(url, never)).bytes.byteLength,
};

async function cpuPerDownloadUs(download: () => Promise<number>): Promise<number> {
  let next = 0;
  const started = process.cpuUsage();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < PER_ROUND) {
        next += 1;
        if ((await download()) !== BODY_BYTES) throw new Error('short body');
      }
    }),
  );
  const used = process.cpuUsage(started);
  return (used.user + used.system) / PER_ROUND;
}

try {
  for (const download of Object.values(variants)) await cpuPerDownloadUs(download);
  const samples = new Map(Object.keys(variants).map((name) => [name, { us: [] as number[], ratio: [] as number[] }]));
  for (let round = 0; round < ROUNDS; round += 1) {
    let baseline: number | undefined;
    for (const [name, download] of Object.entries(variants)) {
      const us = await cpuPerDownloadUs(download);
      baseline ??= us;
      samples.get(name)!.us.push(us);
      samples.get(name)!.ratio.push(us / baseline);
    }
  }
  console.log(`| client | CPU per ${Math.round(BODY_BYTES / 1000)} KB download | ratio to undici fetch |`);
  console.log('| --- | --- | --- |');
  for (const [name, { us, ratio }] of samples) console.log(`| ${name} | ${median(us).toFixed(0)} µs | ${median(ratio).toFixed(2)} |`);
} finally {
  await Promise.all([agent.close(), fetcher.close()]);
  server.kill();
}
