import { after, before, describe, it } from 'node:test';
import { createTcpProxy, type TcpProxy } from '#test/support/tcp-proxy.ts';
import { waitUntil } from '#test/support/wait-until.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import {
  expectEveryJobEnded,
  startFaultWorld,
  startWorker,
  tableJobs,
  waitForOutputs,
  workerEnv,
  type FaultWorld,
  type Worker,
} from './fault-world.ts';

const JOBS = 300;
const RETRIES_DURING_OUTAGE = 10;

describe('fault: Postgres unreachable mid-batch', () => {
  let world: FaultWorld;
  let proxy: TcpProxy;
  let worker: Worker | undefined;

  before(async () => {
    world = await startFaultWorld();
    proxy = await createTcpProxy(5432);
    await proxy.start();
  });

  after(async () => {
    await worker?.stop();
    await proxy?.stop();
    await world?.close();
  });

  it('retries the jobs that met the outage; all end written and every row marked', async () => {
    const jobs = await tableJobs(world, JOBS);
    const databaseUrl = new URL(world.database.url);
    databaseUrl.port = String(proxy.port);
    // Enough attempts, at most 500 ms apart, to outlast the outage many times over.
    worker = await startWorker(workerEnv(world, { DATABASE_URL: databaseUrl.href, MAX_ATTEMPTS: '100' }));
    await publishJobs(world.vhost.url, jobs);
    await waitForOutputs(world.dataDir, 50);

    await proxy.stop();
    await waitUntil(
      `${RETRIES_DURING_OUTAGE} jobs retried for the database`,
      async () =>
        worker!.lines.filter((line) => line.msg === 'job failed, will retry' && line.code === 'DATABASE_UNAVAILABLE').length >=
        RETRIES_DURING_OUTAGE,
      60_000,
      20,
    );
    await proxy.start();

    await expectEveryJobEnded(world, jobs);
  });
});
