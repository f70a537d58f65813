import autocannon from 'autocannon';
import { build } from 'esbuild';
import { freePort } from '#test/support/free-port.ts';
import { confirmsInFlight, queueDepth } from './enqueue.ts';
import type { Figure } from './figure.ts';
import type { BenchOptions } from './options.ts';
import { startPipeline } from './pipeline.ts';
import { answers200, poll, startProcess, type BenchProcess } from './processes.ts';
import type { BenchSource } from './source.ts';

const TASK_BODY = JSON.stringify({ url: 'https://picsum.photos/seed/7/1024/768', ops: ['thumbnail'] });

/**
 * Bundles bench/pipeline/bare-fastify.ts the way build.mjs bundles the
 * entries, inside the repository so that its externals (sharp) resolve.
 */
export async function buildBareFastify(): Promise<string> {
  const outfile = 'node_modules/.cache/imgpipe-bench/bare-fastify.mjs';
  await build({
    entryPoints: ['bench/pipeline/bare-fastify.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
    external: ['sharp', '@electric-sql/pglite', 'pg-native'],
    banner: { js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);" },
  });
  return outfile;
}

export async function startBareFastify(bundle: string, logDir: string): Promise<{ url: string; process: BenchProcess }> {
  const port = await freePort();
  const process = await startProcess('bare-fastify', bundle, { PORT: String(port) }, logDir);
  const url = `http://127.0.0.1:${port}`;
  await poll('bare fastify', () => answers200(`${url}/healthz`), 30_000, 20);
  return { url, process };
}

interface Load {
  readonly rps: number;
  readonly p99: number;
  /** Answered 2xx. */
  readonly ok: number;
  /** Sent, answered or not when the load stopped. */
  readonly sent: number;
}

async function load(url: string, connections: number, seconds: number, post: boolean): Promise<Load> {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    ...(post ? { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: TASK_BODY } : {}),
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
  return { rps: result.requests.average, p99: result.latency.p99, ok: result['2xx'], sent: result.requests.sent };
}

/**
 * `GET /healthz` and `POST /tasks` on `dist/http.mjs` (real Postgres and
 * RabbitMQ) against bare Fastify routes, at 10 and 32 connections, taking
 * turns so both see the same machine. Every task the api accepted must be in
 * the queue (and nothing that was not sent).
 */
export async function httpFigures(options: BenchOptions, source: BenchSource, logDir: string, log: (line: string) => void): Promise<Figure[]> {
  const dir = `${logDir}/http`;
  const bare = await startBareFastify(await buildBareFastify(), dir);
  const pipeline = await startPipeline({ rows: 1, urlBase: source.photoBase, allowHosts: source.hostPort, workers: 0, baseEnv: options.processEnv, logDir: dir });
  const figures: Figure[] = [];
  try {
    let accepted = 0;
    let sent = 0;
    for (const [route, post] of [['GET /healthz', false], ['POST /tasks', true]] as const) {
      const path = post ? '/tasks' : '/healthz';
      for (const connections of [10, 32]) {
        await load(`${bare.url}${path}`, connections, 1, post);
        const baseline = await load(`${bare.url}${path}`, connections, options.httpSeconds, post);
        const warmUp = await load(`${pipeline.apiUrl}${path}`, connections, 1, post);
        const ours = await load(`${pipeline.apiUrl}${path}`, connections, options.httpSeconds, post);
        if (post) {
          accepted += warmUp.ok + ours.ok;
          sent += warmUp.sent + ours.sent;
        }
        log(`${route} c=${connections}: ${ours.rps.toFixed(0)} req/s p99 ${ours.p99} ms; bare ${baseline.rps.toFixed(0)} req/s p99 ${baseline.p99} ms`);
        const target = post ? (connections === 32 ? '>= 0.25' : '') : '>= 0.9';
        const section = 'HTTP (autocannon)';
        if (post) {
          const ceiling = await confirmsInFlight(connections, options.httpSeconds);
          log(`amqplib with ${connections} confirms in flight: ${ceiling.toFixed(0)} msg/s`);
          figures.push({ section, name: `${route}, ${connections} connections`, value: ours.rps, unit: 'req/s', baselineName: `amqplib, ${connections} confirms in flight`, baseline: ceiling, target: '' });
        }
        figures.push(
          { section, name: `${route}, ${connections} connections`, value: ours.rps, unit: 'req/s', baselineName: 'bare Fastify route', baseline: baseline.rps, target },
          { section, name: `${route}, ${connections} connections, p99`, value: ours.p99, unit: 'ms', baselineName: 'bare Fastify route', baseline: baseline.p99, target: '' },
        );
      }
    }
    const queued = await queueDepth(pipeline.vhost.url);
    if (queued < accepted || queued > sent) throw new Error(`POST /tasks: ${accepted} accepted, ${sent} sent, but ${queued} queued`);
    log(`POST /tasks: all ${accepted} accepted tasks are queued (${queued} queued of ${sent} sent)`);
  } finally {
    await bare.process.stop();
    await pipeline.close();
  }
  return figures;
}
