/**
 * The pipeline benchmark (`npm run bench -- --quick | --full`): the built
 * bundles as real processes on the local Postgres and RabbitMQ, each figure
 * with a ratio to a baseline measured in the same run on the same inputs.
 * Prints a Markdown table of medians over the runs; asserts nothing.
 * See docs/performance.md for what each figure means.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { enqueueFigures } from './enqueue.ts';
import type { Figure } from './figure.ts';
import { httpFigures } from './http-load.ts';
import { loadInputs } from './inputs.ts';
import { large } from './large.ts';
import { parseOptions, USAGE } from './options.ts';
import type { RawSharp } from './raw-baseline.ts';
import { startBenchSource } from './source.ts';
import { startupFigures } from './startup.ts';
import { renderTable, summarise } from './table.ts';
import { throughput } from './throughput.ts';

if (process.argv.includes('--help')) {
  console.log(USAGE);
  process.exit(0);
}
const options = parseOptions(process.argv.slice(2));
const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

if (options.build) execFileSync(process.execPath, ['build.mjs'], { stdio: 'inherit' });
const inputs = await loadInputs(log);
const source = await startBenchSource(inputs.photos, inputs.large);
const logRoot = await mkdtemp(join(tmpdir(), 'imgpipe-bench-logs-'));
log(`logs of every process under ${logRoot}`);

const runs: Figure[][] = [];
try {
  for (let index = 0; index < options.runs; index += 1) {
    const logDir = join(logRoot, `run-${index + 1}`);
    log(`run ${index + 1} of ${options.runs}`);
    const figures: Figure[] = [];
    let raw: RawSharp | undefined;
    if (options.sections.includes('throughput')) {
      const result = await throughput(options, inputs, source, logDir, log);
      raw = result.raw;
      figures.push(...result.figures);
    }
    if (options.sections.includes('large')) figures.push(...(await large(options, inputs, source, logDir, log)));
    if (options.sections.includes('enqueue')) figures.push(...(await enqueueFigures(options, source, logDir, log)));
    if (options.sections.includes('http')) figures.push(...(await httpFigures(options, source, logDir, log)));
    if (options.sections.includes('startup')) figures.push(...(await startupFigures(options, raw, logDir, log)));
    runs.push(figures);
  }
} finally {
  await source.close();
}

const summaries = summarise(runs);
const load = execFileSync('cat', ['/proc/loadavg']).toString().trim();
console.log(
  [
    `imgpipe pipeline benchmark: ${options.runs} run(s), medians; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}; ` +
      `Node ${process.version}; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}; load average at the end ${load}`,
    `api and worker env (the image's): ${JSON.stringify(options.processEnv)}; extra worker env: ${JSON.stringify(options.workerEnv)}`,
    '',
    renderTable(summaries),
  ].join('\n'),
);
if (options.json) await writeFile(options.json, JSON.stringify({ options, runs, summaries }, null, 2));
