// `npm run demo`: thumbnails for the 300 seed rows, offline, with nothing but Node.
// Builds dist/ when it is missing or stale, starts the local function host
// (embedded database, in-process queue, built-in sample images) on a random
// port, enqueues every row, follows the host's per-job log lines with a
// progress bar, stops the host and prints a summary. Exits 0 only when all 300
// thumbnails are there: written now, or skipped because a run before wrote them.
//
// DATA_DIR (default ./data) says where the thumbnails go; the host's log is
// written to DATA_DIR/host.log and only its errors reach the terminal.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST_BUNDLE = join(ROOT, 'dist', 'host.mjs');
const ROWS = 300;
const READY_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 5 * 60_000;
const STOP_TIMEOUT_MS = 30_000;
const SHOWN_FAILURES = 5;

const wallStarted = Date.now();
const dataDir = resolve(process.env.DATA_DIR?.trim() || join(ROOT, 'data'));
mkdirSync(dataDir, { recursive: true });
const logPath = join(dataDir, 'host.log');

buildIfStale();

const counts = { written: 0, skipped: 0, deadLettered: 0 };
const failures = [];
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
  const startupMs = Date.now() - wallStarted;
  console.log(`host ready at ${ready.url} in ${seconds(startupMs)} (log: ${logPath})`);

  const enqueueStarted = Date.now();
  const response = await fetch(`${ready.url}/enqueue?limit=${ROWS}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`POST /enqueue answered ${response.status}: ${await response.text()}`);
  const { enqueued } = await response.json();
  console.log(`enqueued ${enqueued} jobs`);

  progress.start(enqueued);
  await host.waitForSettled(enqueued, RUN_TIMEOUT_MS);
  const elapsedMs = Date.now() - enqueueStarted;
  progress.stop();

  const stopCode = await host.stop();
  exitCode = summarize({ enqueued, elapsedMs, stopCode });
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

function buildIfStale() {
  const builtAt = existsSync(HOST_BUNDLE) ? statSync(HOST_BUNDLE).mtimeMs : 0;
  const sources = [join(ROOT, 'build.mjs'), join(ROOT, 'package.json'), ...listFiles(join(ROOT, 'functions')), ...listFiles(join(ROOT, 'adapters'))];
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

function startHost() {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, STORAGE: 'fs' };
  delete env.DATABASE_URL;
  delete env.RABBIT_URL;
  // The progress bar counts the host's per-job `info` lines.
  if (['warn', 'error', 'fatal', 'silent'].includes(env.LOG_LEVEL ?? '')) env.LOG_LEVEL = 'info';

  const log = createWriteStream(logPath, { flags: 'w' });
  const child = spawn(process.execPath, ['--enable-source-maps', HOST_BUNDLE], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // 'close', not 'exit': every line the host wrote has been read by then.
  const exited = once(child, 'close').then(([code, signal]) => ({ code, signal }));
  let stopping;
  const watchers = new Set();
  let ready;
  let settled = 0;

  createInterface({ input: child.stdout }).on('line', (text) => {
    log.write(`${text}\n`);
    const line = parseLine(text);
    if (line.msg === 'host ready') ready = line;
    if (line.msg === 'job done' && (line.outcome === 'written' || line.outcome === 'skipped')) {
      counts[line.outcome] += 1;
      settled += 1;
      progress.update(settled);
    } else if (line.msg === 'job dead-lettered') {
      counts.deadLettered += 1;
      settled += 1;
      failures.push(line);
      if (failures.length <= SHOWN_FAILURES) progress.log(`dead-lettered job ${line.jobId}: ${line.code} ${line.reason}`);
      else if (failures.length === SHOWN_FAILURES + 1) progress.log(`more jobs dead-lettered; see ${logPath}`);
      progress.update(settled);
    } else if (typeof line.level === 'number' && line.level >= 50) {
      progress.log(`host error: ${line.msg ?? text}${line.err ? ` (${typeof line.err === 'string' ? line.err : JSON.stringify(line.err)})` : ''}`);
    }
    for (const watch of watchers) watch();
  });
  createInterface({ input: child.stderr }).on('line', (text) => {
    log.write(`${text}\n`);
    progress.log(`host: ${text}`);
  });

  function waitFor(what, isDone, timeoutMs) {
    return new Promise((resolvePromise, reject) => {
      const check = () => {
        const value = isDone();
        if (value) finish(() => resolvePromise(value));
      };
      const onExit = ({ code, signal }) =>
        finish(() => reject(new Error(`the host exited (${signal ?? `code ${code}`}) while waiting for ${what}`)));
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`))), timeoutMs);
      let done = false;
      const finish = (settle) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        watchers.delete(check);
        settle();
      };
      watchers.add(check);
      exited.then(onExit);
      check();
    });
  }

  return {
    waitForReady: (timeoutMs) => waitFor('the host to be ready', () => ready, timeoutMs),
    waitForSettled: (total, timeoutMs) => waitFor(`${total} jobs to settle`, () => settled >= total, timeoutMs),
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
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar(
      { format: ' {bar} {percentage}% | {value}/{total} jobs | {written} written, {skipped} skipped, {deadLettered} dead-lettered', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let bar;
    return {
      start(total) {
        bar = bars.create(total, 0, { ...counts });
      },
      update(value) {
        bar?.update(value, { ...counts });
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
    update(value) {
      if (total === 0) return;
      const step = Math.floor((value / total) * 10);
      if (step === lastStep) return;
      lastStep = step;
      console.log(`progress ${value}/${total} (${Math.floor((value / total) * 100)}%): ${counts.written} written, ${counts.skipped} skipped, ${counts.deadLettered} dead-lettered`);
    },
    log(text) {
      console.error(text);
    },
    stop() {},
  };
}

function summarize({ enqueued, elapsedMs, stopCode }) {
  const done = counts.written + counts.skipped;
  const rate = done / Math.max(elapsedMs / 1000, 0.001);
  console.log('');
  console.log(`imgpipe demo: ${enqueued} jobs in ${seconds(elapsedMs)} (${rate.toFixed(1)} images/s), ${seconds(Date.now() - wallStarted)} wall clock in all`);
  console.log(`  written        ${pad(counts.written)}`);
  console.log(`  skipped        ${pad(counts.skipped)}  (thumbnail already there, nothing downloaded)`);
  console.log(`  dead-lettered  ${pad(counts.deadLettered)}`);
  for (const failure of failures.slice(0, SHOWN_FAILURES)) {
    console.log(`    job ${failure.jobId}: ${failure.code} ${failure.reason}`);
  }
  if (failures.length > SHOWN_FAILURES) console.log(`    … and ${failures.length - SHOWN_FAILURES} more (see ${logPath})`);
  console.log(`  thumbnails     ${dataDir}`);
  console.log(`  host log       ${logPath}`);
  if (stopCode !== 0) console.log(`  the host exited with code ${stopCode}`);

  const ok = enqueued === ROWS && done === ROWS && counts.deadLettered === 0;
  if (!ok) {
    console.log(`FAILED: expected all ${ROWS} thumbnails; ${enqueued} enqueued, ${done} ready, ${counts.deadLettered} dead-lettered.`);
    return 1;
  }
  if (counts.skipped === 0) console.log(`OK: all ${ROWS} thumbnails written.`);
  else if (counts.written === 0) console.log(`OK: all ${ROWS} thumbnails were already there; nothing was downloaded again.`);
  else console.log(`OK: all ${ROWS} thumbnails there (${counts.written} written, ${counts.skipped} already there).`);
  return stopCode === 0 ? 0 : 1;
}

function pad(value) {
  return String(value).padStart(4);
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
