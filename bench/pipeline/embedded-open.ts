/**
 * How long the local host's embedded database takes to open, each sample in
 * a fresh process: in memory, in a new directory, and in a directory that an
 * earlier run left behind. Prints medians.
 *
 * node --import tsx bench/pipeline/embedded-open.ts [samples]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { median } from './table.ts';

const run = promisify(execFile);
const samples = Number(process.argv[2] ?? 3);

/** One open in a child process: milliseconds for `EmbeddedImagesRepo.open`, init.sql included. */
async function openMs(dataDir: string | undefined): Promise<number> {
  const script = `
    import { readFile } from 'node:fs/promises';
    import { EmbeddedImagesRepo } from '#adapters/db/embedded-images-repo.ts';
    const schema = await readFile('db/init.sql', 'utf8');
    const started = performance.now();
    const repo = await EmbeddedImagesRepo.open(schema, ${dataDir === undefined ? '{}' : `{ dataDir: ${JSON.stringify(dataDir)} }`});
    console.log(performance.now() - started);
    await repo.close();`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  return Number(stdout.trim());
}

const root = await mkdtemp(join(tmpdir(), 'imgpipe-embedded-open-'));
const times = { memory: [] as number[], newDir: [] as number[], existingDir: [] as number[] };
try {
  for (let sample = 0; sample < samples; sample += 1) {
    const dir = join(root, `db-${sample}`);
    times.memory.push(await openMs(undefined));
    times.newDir.push(await openMs(dir));
    times.existingDir.push(await openMs(dir));
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
for (const [mode, values] of Object.entries(times)) {
  console.log(`${mode.padEnd(12)} median ${median(values).toFixed(0)} ms  (${values.map((value) => value.toFixed(0)).join(', ')})`);
}
