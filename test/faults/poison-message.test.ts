import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import type { Job } from '#functions/job.ts';
import { freePort } from '#test/support/free-port.ts';
import { startNodeProcess, type RunningProcess } from '#test/support/node-process.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import { expectEveryJobEnded, startFaultWorld, tableJobs, workerEnv, type FaultWorld } from './fault-world.ts';

const MAX_DELIVERIES = 3;
const OTHER_JOBS = 20;

describe('poison message: a job that kills the worker process', () => {
  let world: FaultWorld;
  let worker: RunningProcess | undefined;

  before(async () => {
    world = await startFaultWorld();
  });

  after(async () => {
    await worker?.stop();
    await world?.close();
  });

  it(`is dead-lettered as POISON_MESSAGE after ${MAX_DELIVERIES + 1} crashes, without running again; the jobs held with it are written`, async () => {
    const poison: Job = { id: 'poison', url: world.source.imageUrl('poison'), ops: ['thumbnail'] };
    const others = await tableJobs(world, OTHER_JOBS);
    // The default PREFETCH and CONCURRENCY: every crash also hands back the other jobs
    // the worker held, which must not be taken for poison.
    const env = workerEnv(world, { MAX_DELIVERIES: String(MAX_DELIVERIES), IMGPIPE_TEST_CRASH_ON_URL: poison.url });

    let crashes = 0;
    for (;;) {
      worker = startNodeProcess('dist/worker.mjs', { ...env, METRICS_PORT: String(await freePort()) });
      const crashed = once(worker.child, 'exit').then(() => true);
      const deadLettered = worker
        .waitForLine((line) => line.msg === 'job dead-lettered' && line.code === 'POISON_MESSAGE', 120_000)
        .then(() => false, () => crashed);
      if (crashes === 0) {
        await worker.waitForLine((line) => line.msg === 'consuming', 60_000);
        await publishJobs(world.vhost.url, [poison, ...others]);
      }
      if (!(await Promise.race([crashed, deadLettered]))) break;
      assert.equal(worker.child.signalCode, 'SIGKILL');
      crashes += 1;
      assert.ok(crashes <= MAX_DELIVERIES + 1, `the worker crashed ${crashes} times`);
    }

    // Once taken from images.q, then MAX_DELIVERIES times from the suspect queue.
    assert.equal(crashes, MAX_DELIVERIES + 1);
    const [letter] = await deadLetters(world.vhost.url);
    assert.equal(letter?.properties.messageId, 'poison');
    assert.equal(letter?.properties.headers?.['x-error-code'], 'POISON_MESSAGE');
    assert.match(String(letter?.properties.headers?.['x-error-message']), /delivered 3 times before without being settled/);
    await expectEveryJobEnded(world, others);
    assert.equal(worker.child.exitCode, null, 'the last worker exited');
  });
});

async function deadLetters(url: string): Promise<amqp.GetMessage[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const letters: amqp.GetMessage[] = [];
    for (let message = await channel.get('images.dlx.q', { noAck: true }); message; message = await channel.get('images.dlx.q', { noAck: true })) {
      letters.push(message);
    }
    return letters;
  } finally {
    await connection.close();
  }
}
