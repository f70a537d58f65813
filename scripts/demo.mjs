// `npm run demo`: thumbnails for the 300 seed rows, offline, with nothing but Node.
// Builds dist/ when it is missing or stale, starts the local function host
// (embedded database kept in DATA_DIR, in-process queue, built-in sample
// images) on a random port, enqueues every pending row, follows the host's
// counters (`GET /stats`) with a progress bar, stops the host and prints a
// summary. Exits 0 only when all 300 thumbnails are there.
//
// The embedded database remembers what is done: a second run finds the rows
// processed and says so. `npm run demo -- --fresh` deletes the database and
// the seed thumbnails first and starts over.
//
// DATA_DIR (default ./data) says where the thumbnails go; the host's log is
// written to DATA_DIR/host.log and only its errors reach the terminal.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST_BUNDLE = join(ROOT, 'dist', 'host.mjs');
const ROWS = 300;
const SEED_THUMBNAIL = /^\d+\.jpg$/;
const READY_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 5 * 60_000;
const STOP_TIMEOUT_MS = 30_000;
const STATS_INTERVAL_MS = 200;
const SHOWN_FAILURES = 5;

const { values: flags } = parseArgs({ options: { fresh: { type: 'boolean', default: false } } });
const wallStarted = Date.now();
const dataDir = resolve(process.env.DATA_DIR?.trim() || join(ROOT, 'data'));
const databaseDir = join(dataDir, '.embedded-db');
const logPath = join(dataDir, 'host.log');
if (flags.fresh) startOver();
mkdirSync(dataDir, { recursive: true });

buildIfStale();

const progress = makeProgress();
const host = startHost();

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    // Stopping the host ends whatever the run is waiting for; the catch below exits.
    interrupted = true;
    progress.stop();
    console.error(`${signal}: stopping the host`);
    void host.stop();
  });
}

let exitCode = 1;
try {
  const ready = await host.waitForReady(READY_TIMEOUT_MS);
  console.log(`host ready at ${ready.url} in ${seconds(Date.now() - wallStarted)} (log: ${logPath})`);

  const enqueueStarted = Date.now();
  const response = await fetch(`${ready.url}/enqueue?limit=${ROWS}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`POST /enqueue answered ${response.status}: ${await response.text()}`);
  const { enqueued } = await response.json();
  console.log(enqueued === 0 ? 'no pending rows: every seed row is already processed' : `enqueued ${enqueued} jobs`);

  progress.start(enqueued);
  const stats = await followStats(ready.url, enqueued);
  const elapsedMs = Date.now() - enqueueStarted;
  progress.stop();

  const stopCode = await host.stop();
  exitCode = summarize({ enqueued, stats, elapsedMs, stopCode });
} catch (error) {
  progress.stop();
  if (!interrupted) {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`host log: ${logPath}`);
  }
  await host.stop();
  exitCode = interrupted ? 130 : 1;
}
process.exit(exitCode);

function startOver() {
  rmSync(databaseDir, { recursive: true, force: true });
  if (!existsSync(dataDir)) return;
  for (const name of readdirSync(dataDir)) if (SEED_THUMBNAIL.test(name)) rmSync(join(dataDir, name));
  console.log(`--fresh: removed the embedded database and the seed thumbnails in ${dataDir}`);
}

function buildIfStale() {
  const builtAt = existsSync(HOST_BUNDLE) ? statSync(HOST_BUNDLE).mtimeMs : 0;
  const sources = [join(ROOT, 'build.mjs'), join(ROOT, 'package.json'), ...['functions', 'adapters', 'entries'].flatMap((dir) => listFiles(join(ROOT, dir)))];
  if (sources.every((file) => statSync(file).mtimeMs <= builtAt)) return;
  console.log(builtAt === 0 ? 'building dist/ …' : 'sources changed, rebuilding dist/ …');
  const result = spawnSync(process.execPath, ['build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('build failed');
    process.exit(1);
  }
}

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}

/** Polls the host's counters until `total` jobs have settled; shows progress and new failures on the way. */
async function followStats(url, total) {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let shownFailures = 0;
  for (;;) {
    const response = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`GET /stats answered ${response.status}`);
    const stats = await response.json();
    const fresh = stats.recentFailures.slice(0, Math.max(0, stats.outcomes['dead-lettered'] - shownFailures)).reverse();
    for (const failure of fresh) {
      shownFailures += 1;
      if (shownFailures <= SHOWN_FAILURES) progress.log(`dead-lettered job ${failure.jobId}: ${failure.code} ${failure.reason}`);
      else if (shownFailures === SHOWN_FAILURES + 1) progress.log(`more jobs dead-lettered; see ${logPath}`);
    }
    progress.update(stats.settled, stats.outcomes);
    if (stats.settled >= total) return stats;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds(RUN_TIMEOUT_MS)} with ${stats.settled} of ${total} jobs settled`);
    await sleep(STATS_INTERVAL_MS);
    if (host.exit) throw new Error(`the host exited (${host.exit.signal ?? `code ${host.exit.code}`}) with ${stats.settled} of ${total} jobs settled`);
  }
}

function startHost() {
  // The container image's process settings (Dockerfile; measured in docs/performance.md), unless set already.
  const imageSettings = { MALLOC_ARENA_MAX: '2', UV_THREADPOOL_SIZE: '20' };
  const env = { ...imageSettings, ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STORAGE: 'fs' };
  delete env.DATABASE_URL;
  delete env.RABBIT_URL;
  // The `host ready` line carries the URL.
  if (['warn', 'error', 'fatal', 'silent'].includes(env.LOG_LEVEL ?? '')) env.LOG_LEVEL = 'info';

  const log = createWriteStream(logPath, { flags: 'w' });
  const child = spawn(process.execPath, ['--enable-source-maps', HOST_BUNDLE], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  // 'close', not 'exit': every line the host wrote has been read by then.
  const exited = once(child, 'close').then(([code, signal]) => ({ code, signal }));
  let stopping;
  const ready = new Promise((resolveReady, reject) => {
    exited.then(({ code, signal }) => reject(new Error(`the host exited (${signal ?? `code ${code}`}) before it was ready`)));
    createInterface({ input: child.stdout }).on('line', (text) => {
      log.write(`${text}\n`);
      const line = parseLine(text);
      if (line.msg === 'host ready') resolveReady(line);
      else if (typeof line.level === 'number' && line.level >= 50) {
        progress.log(`host error: ${line.msg ?? text}${line.err ? ` (${typeof line.err === 'string' ? line.err : JSON.stringify(line.err)})` : ''}`);
      }
    });
  });
  ready.catch(() => {});
  createInterface({ input: child.stderr }).on('line', (text) => {
    log.write(`${text}\n`);
    progress.log(`host: ${text}`);
  });

  const handle = {
    /** Set once the host has exited. */
    exit: undefined,
    async waitForReady(timeoutMs) {
      const timer = new AbortController();
      const timedOut = sleep(timeoutMs, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`the host was not ready after ${seconds(timeoutMs)}`);
      });
      try {
        return await Promise.race([ready, timedOut]);
      } finally {
        timer.abort();
        timedOut.catch(() => {});
      }
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        const { code } = await exited;
        await new Promise((resolveEnd) => log.end(resolveEnd));
        return code;
      })();
      return stopping;
    },
  };
  exited.then((exit) => (handle.exit = exit));
  return handle;
}

function parseLine(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : { msg: text };
  } catch {
    return { msg: text };
  }
}

/** A bar on a terminal; elsewhere (CI, a test) one line every ~10 %. */
function makeProgress() {
  const describe = (outcomes) => `${outcomes.written} written, ${outcomes.skipped} skipped, ${outcomes['dead-lettered']} dead-lettered`;
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar({ format: ' {bar} {percentage}% | {value}/{total} jobs | {outcomes}', hideCursor: true }, cliProgress.Presets.shades_classic);
    let bar;
    return {
      start(total) {
        if (total > 0) bar = bars.create(total, 0, { outcomes: '' });
      },
      update(value, outcomes) {
        bar?.update(value, { outcomes: describe(outcomes) });
      },
      log(text) {
        if (bar) bars.log(`${text}\n`);
        else console.error(text);
      },
      stop() {
        if (bar) bars.stop();
        bar = undefined;
      },
    };
  }
  let total = 0;
  let lastStep = -1;
  return {
    start(value) {
      total = value;
    },
    update(value, outcomes) {
      if (total === 0) return;
      const step = Math.floor((value / total) * 10);
      if (step === lastStep) return;
      lastStep = step;
      console.log(`progress ${value}/${total} (${Math.floor((value / total) * 100)}%): ${describe(outcomes)}`);
    },
    log(text) {
      console.error(text);
    },
    stop() {},
  };
}

function summarize({ enqueued, stats, elapsedMs, stopCode }) {
  const { written, skipped } = stats.outcomes;
  const deadLettered = stats.outcomes['dead-lettered'];
  const thumbnails = readdirSync(dataDir).filter((name) => SEED_THUMBNAIL.test(name)).length;
  const rate = (written + skipped) / Math.max(elapsedMs / 1000, 0.001);
  console.log('');
  console.log(`imgpipe demo: ${enqueued} jobs in ${seconds(elapsedMs)} (${rate.toFixed(1)} images/s), ${seconds(Date.now() - wallStarted)} wall clock in all`);
  console.log(`  written        ${pad(written)}`);
  console.log(`  skipped        ${pad(skipped)}  (thumbnail already there, nothing downloaded)`);
  console.log(`  dead-lettered  ${pad(deadLettered)}`);
  for (const failure of stats.recentFailures.slice(0, SHOWN_FAILURES)) console.log(`    job ${failure.jobId}: ${failure.code} ${failure.reason}`);
  if (deadLettered > SHOWN_FAILURES) console.log(`    … and ${deadLettered - SHOWN_FAILURES} more (see ${logPath})`);
  console.log(`  thumbnails     ${pad(thumbnails)}  in ${dataDir}`);
  console.log(`  host log       ${logPath}`);
  if (stopCode !== 0) console.log(`  the host exited with code ${stopCode}`);

  if (thumbnails !== ROWS || deadLettered > 0) {
    console.log(`FAILED: expected all ${ROWS} thumbnails; ${thumbnails} there, ${deadLettered} dead-lettered.${enqueued === 0 ? ' Run `npm run demo -- --fresh` to start over.' : ''}`);
    return 1;
  }
  if (enqueued === 0) console.log(`OK: all ${ROWS} rows were already processed; nothing to do. \`npm run demo -- --fresh\` starts over.`);
  else if (skipped === 0) console.log(`OK: all ${ROWS} thumbnails written.`);
  else console.log(`OK: all ${ROWS} thumbnails there (${written} written, ${skipped} already there).`);
  return stopCode === 0 ? 0 : 1;
}

function pad(value) {
  return String(value).padStart(4);
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
