import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Job } from '#functions/job.ts';
import { freePort } from '#test/support/free-port.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { closeVhostConnections } from '#test/support/rabbit-admin.ts';
import { waitUntil } from '#test/support/wait-until.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import {
  expectEveryJobEnded,
  startFaultWorld,
  startWorker,
  tableJobs,
  workerEnv,
  type FaultWorld,
  type Worker,
} from './fault-world.ts';

const JOBS = 100;
const CONCURRENCY = 4;
const HELD = new Set(['1', '2', '3', '4']);

describe('fault: every broker connection of the vhost closed mid-batch', () => {
  let world: FaultWorld;
  let worker: Worker | undefined;
  let api: RunningProcess | undefined;
  let apiUrl: string;

  before(async () => {
    world = await startFaultWorld();
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    api = startNodeProcess('dist/http.mjs', { ...workerEnv(world), PORT: String(port) });
    await waitUntil('the api to be ready', async () => (await fetch(`${apiUrl}/healthz`)).ok, 60_000);
  });

  after(async () => {
    world?.source.open();
    await worker?.stop();
    await api?.stop();
    await world?.close();
  });

  it('has the same worker resume, its /healthz recover, and a task posted afterwards written', async () => {
    const jobs: Job[] = await tableJobs(world, JOBS, HELD);
    worker = await startWorker(workerEnv(world, { CONCURRENCY: String(CONCURRENCY), PREFETCH: String(2 * CONCURRENCY) }));
    await publishJobs(world.vhost.url, jobs);
    await world.source.waitForHeld(HELD.size);

    await closeVhostConnections(world.vhost.name);

    await worker.waitForLine((line) => line.msg === 'stopped consuming; reconnecting');
    await waitUntil('the worker to consume again', async () => worker!.lines.filter((line) => line.msg === 'consuming').length >= 2, 60_000);
    await waitUntil('the worker /healthz to answer 200 again', async () => (await worker!.healthz()) === 200);
    world.source.open();

    const url = world.source.imageUrl('after-the-cut');
    const response = await fetch(`${apiUrl}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url, ops: ['thumbnail'] }),
    });
    assert.equal(response.status, 202);
    const { id } = (await response.json()) as { id: string };

    await expectEveryJobEnded(world, [...jobs, { id, url, ops: ['thumbnail'] }]);
    assert.equal(worker.child.exitCode, null, 'the worker exited');
    assert.equal(worker.child.signalCode, null, 'the worker was killed');
  });
});
