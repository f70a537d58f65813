import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROWS = 300;
const DEMO_TIMEOUT_MS = 6 * 60_000;

interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node scripts/demo.mjs` offline: no broker, no database, no picsum, only this machine. */
async function runDemo(dataDir: string, args: readonly string[] = []): Promise<DemoRun> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, OTEL_SDK_DISABLED: 'true' };
  const child = spawn(process.execPath, ['scripts/demo.mjs', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_TIMEOUT_MS);
  try {
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

async function thumbnails(dataDir: string): Promise<string[]> {
  return (await readdir(dataDir)).filter((name) => /^\d+\.jpg$/.test(name)).sort();
}

async function mtimes(dataDir: string, files: readonly string[]): Promise<Map<string, number>> {
  const entries = await Promise.all(files.map(async (file) => [file, (await stat(join(dataDir, file))).mtimeMs] as const));
  return new Map(entries);
}

function expectedFiles(): string[] {
  return Array.from({ length: ROWS }, (_, index) => `${index + 1}.jpg`).sort();
}

function describeRun(run: DemoRun): string {
  return `exit ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
}

describe('npm run demo (dist/host.mjs with embedded defaults)', { timeout: 2 * DEMO_TIMEOUT_MS }, () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-demo-'));
  });

  after(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('writes 300 thumbnails on a first run; a second run finds the rows processed; without the database every job is skipped; --fresh starts over', async () => {
    // Act: first run
    const first = await runDemo(dataDir);

    // Assess: every seed row became a JPEG thumbnail of at most 400 px
    assert.equal(first.code, 0, describeRun(first));
    assert.match(first.stdout, /written\s+300\b/, describeRun(first));
    assert.match(first.stdout, /dead-lettered\s+0\b/);
    assert.ok(first.stdout.includes(dataDir), 'the summary names where the files are');
    const files = await thumbnails(dataDir);
    assert.deepEqual(files, expectedFiles());
    for (const file of files) {
      const metadata = await sharp(join(dataDir, file)).metadata();
      assert.equal(metadata.format, 'jpeg', file);
      assert.ok(Math.max(metadata.width ?? Infinity, metadata.height ?? Infinity) <= 400, `${file} is ${metadata.width}x${metadata.height}`);
    }
    const before = await mtimes(dataDir, files);

    // Act: second run over the same directory: the embedded database remembers
    const second = await runDemo(dataDir);

    // Assess: nothing to do, and said so
    assert.equal(second.code, 0, describeRun(second));
    assert.match(second.stdout, /already processed/, describeRun(second));
    assert.match(second.stdout, /written\s+0\b/);
    assert.deepEqual(await mtimes(dataDir, files), before);

    // Act: the database is gone, the thumbnails are not
    await rm(join(dataDir, '.embedded-db'), { recursive: true });
    const third = await runDemo(dataDir);

    // Assess: all 300 enqueued again, all skipped, none touched
    assert.equal(third.code, 0, describeRun(third));
    assert.match(third.stdout, /skipped\s+300\b/, describeRun(third));
    assert.match(third.stdout, /written\s+0\b/);
    assert.deepEqual(await thumbnails(dataDir), expectedFiles());
    assert.deepEqual(await mtimes(dataDir, files), before);

    // Act: --fresh
    const fresh = await runDemo(dataDir, ['--fresh']);

    // Assess: written anew
    assert.equal(fresh.code, 0, describeRun(fresh));
    assert.match(fresh.stdout, /written\s+300\b/, describeRun(fresh));
    assert.deepEqual(await thumbnails(dataDir), expectedFiles());
  });
});
