import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { waitUntil } from '#test/support/wait-until.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import {
  expectEveryJobEnded,
  outputsIn,
  startFaultWorld,
  startWorker,
  tableJobs,
  workerEnv,
  type FaultWorld,
  type Worker,
} from './fault-world.ts';

const JOBS = 40;
const CONCURRENCY = 4;
const HELD = new Set(['1', '2', '3', '4']);

describe('fault: SIGTERM with jobs in flight', () => {
  let world: FaultWorld;
  const workers: Worker[] = [];

  before(async () => {
    world = await startFaultWorld();
  });

  after(async () => {
    world?.source.open();
    for (const worker of workers) await worker.stop();
    await world?.close();
  });

  it('finishes the running jobs, hands the rest back and exits 0; a new worker finishes them', async () => {
    const jobs = await tableJobs(world, JOBS, HELD);
    const first = await startWorker(workerEnv(world, { CONCURRENCY: String(CONCURRENCY), PREFETCH: String(2 * CONCURRENCY) }));
    workers.push(first);
    await publishJobs(world.vhost.url, jobs);
    await world.source.waitForHeld(HELD.size);
    await waitUntil('the prefetch filled', async () => (await readyInQueue(world.vhost.url)) === JOBS - 2 * CONCURRENCY, 60_000, 20);

    const exited = once(first.child, 'exit');
    first.child.kill('SIGTERM');
    // The prefetched jobs not started yet go back to the queue at once; the running ones stay.
    await waitUntil('the jobs not started handed back', async () => (await readyInQueue(world.vhost.url)) === JOBS - HELD.size, 60_000, 20);
    world.source.open();
    const [code] = (await exited) as [number | null];

    assert.equal(code, 0);
    assert.ok(!first.lines.some((line) => String(line.msg).startsWith('drain timeout')), 'the drain timed out');
    assert.deepEqual((await outputsIn(world.dataDir)).sort(), [...HELD].map((id) => `${id}.jpg`).sort());
    workers.push(await startWorker(workerEnv(world)));
    await expectEveryJobEnded(world, jobs);
  });
});

async function readyInQueue(url: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    return (await (await connection.createChannel()).checkQueue('images.q')).messageCount;
  } finally {
    await connection.close();
  }
}
