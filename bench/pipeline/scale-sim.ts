/**
 * What N workers would ask of the broker and the database, without the
 * images: a confirmed publisher at `rate` msg/s (the enqueue side) and N
 * consumers that ack every message (prefetch 16) on one classic queue, and
 * N database clients marking rows processed at the same total rate: one
 * UPDATE per job (no batching, the worst case), then through one
 * BatchedWrites per worker, as the repo does. Fresh vhost and databases.
 * Prints achieved rates and latencies; asserts nothing.
 *
 * node --import tsx bench/pipeline/scale-sim.ts [--workers 20] [--rate 3000] [--seconds 15]
 */
import amqp from 'amqplib';
import pg from 'pg';
import { loadConfig } from '#adapters/config.ts';
import { assertTopology } from '#adapters/amqp/topology.ts';
import { BatchedWrites } from '#adapters/db/batched-writes.ts';
import { IMAGES_SQL } from '#adapters/db/images-sql.ts';
import { createTestDatabase } from '#test/support/pg-database.ts';
import { createTestVhost } from '#test/support/rabbit-vhost.ts';
import { numberFlag } from './options.ts';
import { median } from './table.ts';

/** The topology's warnings (a classic queue kept) do not matter to a benchmark's fresh vhost. */
const silentLog = { debug() {}, info() {}, warn() {}, error() {} };

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => numberFlag(argv, name, fallback);
const workers = flag('--workers', 20);
const rate = flag('--rate', 3000);
const seconds = flag('--seconds', 15);
const total = rate * seconds;
const config = loadConfig({}, 'worker');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Calls `tick(n)` so that n reaches `count` at `perSecond`, in 10 ms steps. */
async function paced(count: number, perSecond: number, tick: (index: number) => void): Promise<void> {
  const started = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * perSecond));
    while (sent < due) tick(sent++);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function broker(): Promise<string> {
  const vhost = await createTestVhost('imgpipe-bench');
  const connections: amqp.ChannelModel[] = [];
  try {
    const publisherConnection = await amqp.connect(vhost.url);
    connections.push(publisherConnection);
    const publisher = await publisherConnection.createConfirmChannel();
    await assertTopology(publisherConnection, config, silentLog);
    const latencies: number[] = [];
    let consumed = 0;
    let done!: () => void;
    const allConsumed = new Promise<void>((resolve) => (done = resolve));
    for (let index = 0; index < workers; index += 1) {
      const connection = await amqp.connect(vhost.url);
      connections.push(connection);
      const channel = await connection.createChannel();
      await channel.prefetch(16);
      await channel.consume(config.queue, (message) => {
        if (!message) return;
        latencies.push(Date.now() - Number(message.properties.timestamp));
        channel.ack(message);
        consumed += 1;
        if (consumed === total) done();
      });
    }
    const started = performance.now();
    const confirms: Promise<void>[] = [];
    await paced(total, rate, (index) => {
      const body = Buffer.from(JSON.stringify({ id: String(index + 1), url: `https://picsum.photos/seed/${index}/1024/768`, ops: ['thumbnail'] }));
      confirms.push(
        new Promise((resolve, reject) =>
          publisher.publish(config.exchange, config.routingKey, body, { persistent: true, mandatory: true, timestamp: Date.now(), contentType: 'application/json' }, (error) =>
            error ? reject(error) : resolve(),
          ),
        ),
      );
    });
    await Promise.all(confirms);
    await allConsumed;
    const elapsed = (performance.now() - started) / 1000;
    return `broker: ${workers} consumers, ${total} persistent confirmed messages asked at ${rate}/s: delivered and acked at ${(total / elapsed).toFixed(0)}/s; publish-to-consume p50 ${median(latencies)} ms, p99 ${percentile(latencies, 99)} ms`;
  } finally {
    for (const connection of connections.reverse()) await connection.close().catch(() => {});
    await vhost.delete();
  }
}

async function database(batched: boolean): Promise<string> {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: workers });
  let statements = 0;
  const write = async (ids: number[], urls: string[]) => {
    statements += 1;
    await pool.query(IMAGES_SQL.markProcessedMany, [ids, urls]);
  };
  const perWorker = Array.from({ length: workers }, () => new BatchedWrites<number>((ids) => write(ids, ids.map((id) => `u${id}`))));
  const mark = (id: number): Promise<void> => (batched ? perWorker[id % workers]!.write(id) : write([id], [`u${id}`]));
  try {
    await db.query('TRUNCATE images RESTART IDENTITY');
    await db.query(`INSERT INTO images (url) SELECT 'u' || n FROM generate_series(1, $1::int) AS n`, [total]);
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const started = performance.now();
    await paced(total, rate, (index) => {
      const sent = performance.now();
      pending.push(
        mark(index + 1).then(() => {
          latencies.push(performance.now() - sent);
        }),
      );
    });
    await Promise.all(pending);
    const elapsed = (performance.now() - started) / 1000;
    const how = batched ? `group-committed per worker (${statements} statements)` : 'one UPDATE and commit each';
    return `database: ${workers} clients, ${total} rows marked ${how}, asked at ${rate}/s: done at ${(total / elapsed).toFixed(0)}/s; p50 ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`;
  } finally {
    await pool.end();
    await db.drop();
  }
}

const [brokerLine, databaseLine] = await Promise.all([broker(), database(false)]);
console.log(brokerLine);
console.log(databaseLine);
console.log(await database(true));
