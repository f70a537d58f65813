import amqp, { type ConfirmChannel } from 'amqplib';
import { loadConfig } from '#adapters/config.ts';
import { assertTopology } from '#adapters/amqp/topology.ts';
import { createTestVhost } from '#test/support/rabbit-vhost.ts';
import type { Figure } from './figure.ts';
import type { BenchOptions } from './options.ts';
import { enqueue, startPipeline } from './pipeline.ts';
import type { BenchSource } from './source.ts';

/** The topology's warnings (a classic queue kept) do not matter to a benchmark's fresh vhost. */
const silentLog = { debug() {}, info() {}, warn() {}, error() {} };

const TOPOLOGY = loadConfig({}, 'api');

/**
 * `POST /enqueue?limit=N` on a table of N pending rows (the api already
 * connected), against raw amqplib publishing the same N job messages with
 * confirms from one process, on a fresh vhost with the same topology.
 */
export async function enqueueFigures(options: BenchOptions, source: BenchSource, logDir: string, log: (line: string) => void): Promise<Figure[]> {
  const rows = options.enqueueRows;
  const raw = await rawPublish(rows, source.photoBase);
  const pipeline = await startPipeline({ rows, urlBase: source.photoBase, allowHosts: source.hostPort, workers: 0, baseEnv: options.processEnv, logDir: `${logDir}/enqueue` });
  let seconds: number;
  try {
    const started = performance.now();
    await enqueue(pipeline.apiUrl, rows);
    seconds = (performance.now() - started) / 1000;
    const queued = await queueDepth(pipeline.vhost.url);
    if (queued !== rows) throw new Error(`POST /enqueue said ${rows} but ${queued} are queued`);
  } finally {
    await pipeline.close();
  }
  log(`enqueue ${rows}: ${(rows / seconds).toFixed(0)} msg/s; raw ${(rows / raw).toFixed(0)} msg/s`);
  return [
    {
      section: 'enqueue',
      name: `POST /enqueue?limit=${rows}`,
      value: rows / seconds,
      unit: 'msg/s',
      baselineName: 'amqplib, confirmed, 1 process',
      baseline: rows / raw,
      target: '>= 0.8',
    },
  ];
}

async function rawPublish(rows: number, urlBase: string): Promise<number> {
  return onFreshTopology(async (channel) => {
    const started = performance.now();
    for (let id = 1; id <= rows; id += 1) {
      const job = { id: String(id), url: `${urlBase}${id}.jpg`, ops: ['thumbnail'] };
      const accepted = channel.publish(TOPOLOGY.exchange, TOPOLOGY.routingKey, Buffer.from(JSON.stringify(job)), {
        persistent: true,
        contentType: 'application/json',
        messageId: job.id,
        mandatory: true,
      });
      if (!accepted) await new Promise((resolve) => channel.once('drain', resolve));
    }
    await channel.waitForConfirms();
    const seconds = (performance.now() - started) / 1000;
    const { messageCount } = await channel.checkQueue(TOPOLOGY.queue);
    if (messageCount !== rows) throw new Error(`raw publish: ${messageCount} of ${rows} queued`);
    return seconds;
  });
}

/** Runs `use` on a confirm channel of a fresh vhost with the topology declared; deletes the vhost after. */
async function onFreshTopology<T>(use: (channel: ConfirmChannel) => Promise<T>): Promise<T> {
  const vhost = await createTestVhost('imgpipe-bench');
  try {
    const connection = await amqp.connect(vhost.url);
    try {
      const channel = await connection.createConfirmChannel();
      await assertTopology(connection, TOPOLOGY, silentLog);
      return await use(channel);
    } finally {
      await connection.close();
    }
  } finally {
    await vhost.delete();
  }
}

/** Messages ready in `QUEUE` on a vhost. */
export async function queueDepth(vhostUrl: string): Promise<number> {
  const connection = await amqp.connect(vhostUrl);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(TOPOLOGY.queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/**
 * The broker's ceiling for a request that waits for its own confirm: amqplib
 * keeping `inFlight` persistent publishes outstanding, each replaced as soon
 * as it is confirmed, for `seconds`, on a fresh vhost with the topology.
 * Returns confirmed messages per second.
 */
export async function confirmsInFlight(inFlight: number, seconds: number): Promise<number> {
  return onFreshTopology(async (channel) => {
    const body = Buffer.from(JSON.stringify({ id: 't-0', url: 'https://picsum.photos/seed/7/1024/768', ops: ['thumbnail'] }));
    const deadline = performance.now() + seconds * 1000;
    let confirmed = 0;
    const lane = async () => {
      while (performance.now() < deadline) {
        await new Promise<void>((resolve, reject) =>
          channel.publish(TOPOLOGY.exchange, TOPOLOGY.routingKey, body, { persistent: true, mandatory: true }, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        confirmed += 1;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: inFlight }, lane));
    return confirmed / ((performance.now() - started) / 1000);
  });
}
