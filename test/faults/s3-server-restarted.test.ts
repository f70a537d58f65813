import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { startS3Server, type S3Server } from '#test/support/s3-server.ts';
import { waitUntil } from '#test/support/wait-until.ts';
import { publishJobs } from '#test/support/publish-jobs.ts';
import {
  expectEveryJobEnded,
  startFaultWorld,
  startWorker,
  tableJobs,
  workerEnv,
  type FaultWorld,
  type Outputs,
  type Worker,
} from './fault-world.ts';

const JOBS = 300;
const BUCKET = 'fault-thumbnails';
const RETRIES_DURING_OUTAGE = 10;

describe('fault: the S3 server stopped and started mid-batch', () => {
  let world: FaultWorld;
  let s3: S3Server;
  let client: S3Client;
  let worker: Worker | undefined;

  before(async () => {
    [world, s3] = await Promise.all([startFaultWorld(), startS3Server()]);
    client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
  });

  after(async () => {
    await worker?.stop();
    client?.destroy();
    await s3?.close();
    await world?.close();
  });

  it('retries the jobs that met the outage; all end written as whole objects', async () => {
    const jobs = await tableJobs(world, JOBS);
    worker = await startWorker(
      workerEnv(world, {
        STORAGE: 'minio',
        S3_ENDPOINT: s3.endpoint,
        S3_BUCKET: BUCKET,
        S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        // Enough attempts, at most 500 ms apart, to outlast the outage many times over.
        MAX_ATTEMPTS: '100',
      }),
    );
    await publishJobs(world.vhost.url, jobs);
    await waitUntil('50 objects written', async () => worker!.lines.filter((line) => line.outcome === 'written').length >= 50, 60_000, 20);

    await s3.stop();
    await waitUntil(
      `${RETRIES_DURING_OUTAGE} jobs retried for the S3 server`,
      async () => worker!.lines.filter((line) => line.msg === 'job failed, will retry' && line.code === 'S3_UNREACHABLE').length >= RETRIES_DURING_OUTAGE,
      60_000,
      20,
    );
    await s3.restart();

    await expectEveryJobEnded(world, jobs, { outputs: bucketOutputs(client) });
  });
});

function bucketOutputs(client: S3Client): Outputs {
  return {
    async keys() {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      return (listed.Contents ?? []).map((object) => object.Key!);
    },
    async read(key) {
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return object.Body!.transformToByteArray();
    },
  };
}
