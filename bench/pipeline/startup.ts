import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '#test/support/free-port.ts';
import { createTestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost } from '#test/support/rabbit-vhost.ts';
import type { Figure } from './figure.ts';
import { buildBareFastify } from './http-load.ts';
import type { BenchOptions } from './options.ts';
import { answers200, poll, startProcess } from './processes.ts';
import type { RawSharp } from './raw-baseline.ts';

const run = promisify(execFile);
const BUNDLES = ['http', 'worker', 'host', 'lambda'] as const;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Milliseconds from spawning `script` to its first 200 on `/healthz` (median of `samples`). */
async function readyMs(name: string, script: string, env: Record<string, string>, samples: number, logDir: string): Promise<number> {
  const times: number[] = [];
  for (let sample = 0; sample < samples; sample += 1) {
    const port = await freePort();
    const started = performance.now();
    const child = await startProcess(name, script, { ...env, PORT: String(port), HOST: '127.0.0.1' }, logDir);
    try {
      await poll(`${script} to answer`, () => answers200(`http://127.0.0.1:${port}/healthz`), 30_000, 5);
      times.push(performance.now() - started);
    } finally {
      await child.stop();
    }
  }
  return median(times);
}

/** Milliseconds `import(specifier)` takes in a fresh process (median of `samples`). */
async function importMs(specifier: string, env: Record<string, string>, samples: number): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t);`;
  const times: number[] = [];
  for (let sample = 0; sample < samples; sample += 1) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', ...env } });
    times.push(Number(stdout.trim()));
  }
  return median(times);
}

interface HostRun {
  readonly readyMs: number;
  /** Images/s of `POST /enqueue?limit=300` to the 300th file, when there was work. */
  readonly imgPerSec: number | undefined;
}

/** `dist/host.mjs` on `dataDir`: spawn to its `host ready` line, then, on an empty directory, the demo's 300 jobs. */
async function hostRun(dataDir: string, logDir: string, name: string): Promise<HostRun> {
  const started = performance.now();
  const host = await startProcess(name, 'dist/host.mjs', { DATA_DIR: dataDir, PORT: '0', OTEL_SDK_DISABLED: 'true' }, logDir);
  try {
    const ready = await poll(
      'host ready',
      async () => {
        const lines = (await readFile(host.logFile, 'utf8')).split('\n');
        const line = lines.find((text) => text.includes('"host ready"'));
        return line ? (JSON.parse(line) as { url: string }) : undefined;
      },
      60_000,
      5,
    );
    const readyMs = performance.now() - started;
    const before = (await readdir(dataDir)).filter((file) => file.endsWith('.jpg')).length;
    if (before > 0) return { readyMs, imgPerSec: undefined };
    const jobsStarted = performance.now();
    const response = await fetch(`${ready.url}/enqueue?limit=300`, { method: 'POST' });
    const { enqueued } = (await response.json()) as { enqueued: number };
    await poll(
      'the demo thumbnails',
      async () => (await readdir(dataDir)).filter((file) => file.endsWith('.jpg')).length >= enqueued,
      10 * 60_000,
      20,
    );
    return { readyMs, imgPerSec: enqueued / ((performance.now() - jobsStarted) / 1000) };
  } finally {
    await host.stop();
  }
}

/**
 * Start-up: `dist/http.mjs` to its first 200 against a bare Fastify bundle;
 * `import()` of `dist/lambda.mjs` against `import('fastify')`; the local
 * host's readiness on a first and a second run of one data directory, and
 * the demo's jobs against raw sharp; bundle sizes.
 */
export async function startupFigures(options: BenchOptions, raw: RawSharp | undefined, logDir: string, log: (line: string) => void): Promise<Figure[]> {
  const dir = `${logDir}/startup`;
  const section = 'start-up';
  const figures: Figure[] = [];
  const bare = await buildBareFastify();
  const database = await createTestDatabase();
  const vhost = await createTestVhost('imgpipe-bench');
  try {
    const env = { ...options.processEnv, DATABASE_URL: database.url, RABBIT_URL: vhost.url };
    const bareMs = await readyMs('bare-fastify', bare, {}, options.startups, dir);
    const httpMs = await readyMs('api', 'dist/http.mjs', env, options.startups, dir);
    figures.push({ section, name: 'dist/http.mjs to first 200', value: httpMs, unit: 'ms', baselineName: 'bare Fastify bundle', baseline: bareMs, target: '<= 300 ms' });
    const fastifyMs = await importMs('fastify', {}, options.startups);
    const lambdaMs = await importMs(resolve('dist/lambda.mjs'), env, options.startups);
    figures.push({ section, name: 'import dist/lambda.mjs', value: lambdaMs, unit: 'ms', baselineName: "import('fastify')", baseline: fastifyMs, target: '<= 150 ms' });
    log(`http ready ${httpMs.toFixed(0)} ms (bare ${bareMs.toFixed(0)}), lambda import ${lambdaMs.toFixed(0)} ms (fastify ${fastifyMs.toFixed(0)})`);

    const dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-bench-host-'));
    try {
      const first = await hostRun(dataDir, dir, 'host-1');
      const second = await hostRun(dataDir, dir, 'host-2');
      log(`host ready ${first.readyMs.toFixed(0)} ms, then ${second.readyMs.toFixed(0)} ms; demo ${first.imgPerSec?.toFixed(1)} img/s`);
      figures.push(
        { section, name: 'dist/host.mjs ready, first run', value: first.readyMs, unit: 'ms', baselineName: 'dist/http.mjs to first 200', baseline: httpMs, target: '' },
        { section, name: 'dist/host.mjs ready, second run', value: second.readyMs, unit: 'ms', baselineName: 'dist/http.mjs to first 200', baseline: httpMs, target: '<= 1500 ms' },
      );
      if (first.imgPerSec !== undefined && raw) {
        figures.push({ section, name: 'demo: 300 jobs in the host', value: first.imgPerSec, unit: 'img/s', baselineName: 'raw sharp (throughput section)', baseline: raw.best, target: '>= 0.6' });
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }

    const bareBytes = await loadedAtStartBytes(bare);
    for (const bundle of BUNDLES) {
      const bytes = await loadedAtStartBytes(`dist/${bundle}.mjs`);
      figures.push({ section: 'bundle size', name: `dist/${bundle}.mjs and the chunks it imports at start`, value: bytes / 1024, unit: 'KiB', baselineName: 'bare Fastify bundle', baseline: bareBytes / 1024, target: '' });
    }
  } finally {
    await database.drop();
    await vhost.delete();
  }
  return figures;
}

/** A static `import … from "./x.mjs"`, `import "./x.mjs"` or `export … from "./x.mjs"`; never a dynamic `import("./x.mjs")`. */
const STATIC_IMPORT = /(?:^|[\n;])\s*(?:import|export)\s*(?:[^;()"]*?\bfrom\s*)?"(\.{1,2}\/[^"]+\.mjs)"/g;

/**
 * The bytes a process parses before its entry runs: the bundle and every chunk
 * it imports statically, transitively (code splitting keeps what is loaded
 * with `import()` in chunks of its own, which do not count).
 */
async function loadedAtStartBytes(entry: string): Promise<number> {
  const seen = new Set<string>();
  const visit = async (file: string): Promise<number> => {
    if (seen.has(file)) return 0;
    seen.add(file);
    const text = await readFile(file, 'utf8');
    let bytes = (await stat(file)).size;
    for (const [, specifier] of text.matchAll(STATIC_IMPORT)) bytes += await visit(join(dirname(file), specifier!));
    return bytes;
  };
  return visit(entry);
}
