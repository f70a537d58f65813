import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Job } from '#functions/job.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import {
  expectEveryJobEnded,
  outputsIn,
  startFaultWorld,
  startWorker,
  tableJobs,
  waitForOutputs,
  workerEnv,
  type FaultWorld,
  type Worker,
} from './fault-world.ts';

const JOBS = 300;

describe('fault: kill -9 of a worker mid-batch', () => {
  let world: FaultWorld;
  const workers: Worker[] = [];

  before(async () => {
    world = await startFaultWorld();
  });

  after(async () => {
    for (const worker of workers) await worker.stop();
    await world?.close();
  });

  it('loses nothing: a new worker writes all 300 and every row ends processed', async () => {
    const jobs: Job[] = await tableJobs(world, JOBS);
    const first = await startWorker(workerEnv(world));
    workers.push(first);
    await publishJobs(world.vhost.url, jobs);

    await waitForOutputs(world.dataDir, 100);
    first.child.kill('SIGKILL');
    await first.stop();
    const writtenByFirst = (await outputsIn(world.dataDir)).length;
    assert.ok(writtenByFirst < JOBS, `the first worker wrote all ${writtenByFirst} before it was killed`);

    workers.push(await startWorker(workerEnv(world)));
    await expectEveryJobEnded(world, jobs);
  });
});
