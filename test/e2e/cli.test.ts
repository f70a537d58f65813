import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '#test/support/cli-process.ts';
import { freePort } from '#test/support/free-port.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';

const API_KEY = 'cli-test-key';

describe('the imgpipe CLI as a process, against dist/host.mjs', () => {
  let host: RunningProcess;
  let dataDir: string;
  let env: Record<string, string>;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'imgpipe-cli-'));
    host = startNodeProcess('dist/host.mjs', { PORT: '0', DATA_DIR: dataDir, API_KEY, CONCURRENCY: '2' });
    const ready = await host.waitForLine((line) => line.msg === 'host ready', 60_000);
    env = { IMGPIPE_API: String(ready.url), IMGPIPE_API_KEY: API_KEY };
  });

  after(async () => {
    await host?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('enqueues with --wait, showing progress lines without a terminal, and prints JSON for scripts', async () => {
    const run = await runCli(['enqueue', '--limit', '20', '--wait', '--json'], env);

    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { enqueued: 20, processed: 20, failed: 0 });
    assert.match(run.stderr, /^progress 20\/20 \(100%\) rows ended$/m);
    assert.ok(!run.stderr.includes('\u001b['), 'no terminal escapes when stderr is not a terminal');
  });

  it('shows a job, as text and as JSON', async () => {
    const text = await runCli(['job', '3'], env);
    const json = await runCli(['job', '3', '--json'], env);

    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^3 {2}written {2}\(attempts 1\)$/m);
    assert.match(text.stdout, /output {2}.*3\.jpg$/m);
    const job = JSON.parse(json.stdout);
    assert.deepEqual([job.id, job.state, job.output.key], ['3', 'written', '3.jpg']);
  });

  it('posts a task and waits for its end', async () => {
    const url = `${env.IMGPIPE_API}/samples/seed/cli/640/480`;

    const run = await runCli(['task', url, '--id', 'from-cli', '--wait', '--json'], env);

    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual([JSON.parse(run.stdout).id, JSON.parse(run.stdout).state], ['from-cli', 'written']);
  });

  it('prints the status', async () => {
    const run = await runCli(['status', '--json'], env);
    const text = await runCli(['status'], env);

    assert.equal(run.code, 0, run.stderr);
    const status = JSON.parse(run.stdout);
    assert.deepEqual(status.rows, { total: 300, processed: 20, failed: 0, pending: 280 });
    assert.match(text.stdout, /^rows {5}300 total, 20 processed, 0 failed, 280 pending$/m);
  });

  for (const [what, args, extraEnv, code, message] of [
    ['an unknown job', ['job', 'never-posted'], {}, 1, /^imgpipe: no job with id never-posted$/],
    ['a wrong key', ['status'], { IMGPIPE_API_KEY: 'wrong' }, 1, /^imgpipe: the api refused the key \(401\); set IMGPIPE_API_KEY/],
    ['an api that is not there', ['status'], { IMGPIPE_API: 'NOTHING_LISTENS' }, 1, /^imgpipe: cannot reach the api at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); set IMGPIPE_API$/],
    ['a refused task', ['task', 'ftp://example.invalid/x.jpg'], {}, 1, /^imgpipe: POST \/tasks answered 400 INVALID_INPUT: url: must use http or https$/],
    ['an unknown command', ['frobnicate'], {}, 2, /^imgpipe: unknown command "frobnicate" \(see imgpipe --help\)$/],
    ['a bad option', ['enqueue', '--limit', 'many'], {}, 2, /^imgpipe: --limit must be a whole number from 1$/],
  ] as const) {
    it(`fails on ${what} with one line and exit code ${code}`, async () => {
      const overrides: Record<string, string> = { ...extraEnv };
      if (overrides.IMGPIPE_API === 'NOTHING_LISTENS') overrides.IMGPIPE_API = `http://127.0.0.1:${await freePort()}`;
      const run = await runCli([...args], { ...env, ...overrides });

      assert.equal(run.code, code, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(run.stderr.trimEnd(), message);
    });
  }
});
