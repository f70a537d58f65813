import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { expectWritten, outputsIn, startFaultWorld, tableJobs, waitForOutputs, type FaultWorld } from './fault-world.ts';

const JOBS = 300;

describe('fault: kill -9 of the local host (Postgres, in-process queue) mid-batch', () => {
  let world: FaultWorld;
  const hosts: RunningProcess[] = [];

  before(async () => {
    world = await startFaultWorld();
  });

  after(async () => {
    for (const host of hosts) await host.stop();
    await world?.close();
  });

  /** `dist/host.mjs` on the test database and no broker; resolves with its URL once ready. */
  async function startHost(): Promise<string> {
    const host = startNodeProcess('dist/host.mjs', {
      DATABASE_URL: world.database.url,
      DATA_DIR: world.dataDir,
      URL_ALLOW_HOSTS: world.source.hostPort,
      PORT: '0',
    });
    hosts.push(host);
    const ready = await host.waitForLine((line) => line.msg === 'host ready', 60_000);
    return String(ready.url);
  }

  async function enqueue(url: string): Promise<number> {
    const response = await fetch(`${url}/enqueue?limit=${JOBS}`, { method: 'POST' });
    assert.equal(response.status, 200);
    return ((await response.json()) as { enqueued: number }).enqueued;
  }

  it('loses nothing: after a restart, every row ends processed', async () => {
    const jobs = await tableJobs(world, JOBS);
    const first = await startHost();
    assert.equal(await enqueue(first), JOBS);
    await waitForOutputs(world.dataDir, 100);
    hosts[0]!.child.kill('SIGKILL');
    await hosts[0]!.stop();
    assert.ok((await outputsIn(world.dataDir)).length < JOBS, 'the batch was over before the kill');

    const second = await startHost();
    const handedBack = await enqueue(second);

    await expectWritten(world, jobs).catch((error: unknown) => {
      throw new Error(`after the restart, /enqueue published ${handedBack} jobs: ${String(error)}`);
    });
  });
});
