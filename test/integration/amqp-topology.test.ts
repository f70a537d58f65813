import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { assertTopology, retryDelays, retryQueueName } from '#adapters/amqp/topology.ts';
import { MemoryLogger } from '#test/fakes/support.ts';
import { topologyConfig } from '#test/support/topology-config.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const run = promisify(execFile);

interface QueueInfo {
  name: string;
  durable: boolean;
  arguments: Record<string, unknown>;
}

/** rabbitmqctl lists queue arguments as `[name, type, value]` triples. */
interface RawQueueInfo {
  name: string;
  durable: boolean;
  arguments: Array<[string, string, unknown]>;
}

interface BindingInfo {
  source_name: string;
  destination_name: string;
  routing_key: string;
}

async function rabbitmqctlJson<T>(vhost: string, ...args: string[]): Promise<T> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args, '-p', vhost, '--formatter', 'json']);
  return JSON.parse(stdout) as T;
}

describe('assertTopology', () => {
  let vhost: TestVhost;
  let connection: ChannelModel;
  let channel: Channel;
  const log = new MemoryLogger();

  before(async () => {
    vhost = await createTestVhost();
    connection = await amqp.connect(vhost.url);
    channel = await connection.createChannel();
  });

  after(async () => {
    await connection?.close();
    await vhost?.delete();
  });

  /** A channel of its own, for calls that are expected to close it. */
  async function scratchChannel(): Promise<Channel> {
    const scratch = await connection.createChannel();
    scratch.on('error', () => {});
    return scratch;
  }

  it('declares the exchanges, queues, arguments and bindings of the design', async () => {
    const config = topologyConfig();

    const topology = await assertTopology(connection, config, log);

    await channel.checkExchange('images');
    await channel.checkExchange('images.dlx');
    const raw = await rabbitmqctlJson<RawQueueInfo[]>(vhost.name, 'list_queues', 'name', 'durable', 'arguments');
    const queues: QueueInfo[] = raw.map((queue) => ({
      ...queue,
      arguments: Object.fromEntries(queue.arguments.map(([name, , value]) => [name, value])),
    }));
    const byName = new Map(queues.map((queue) => [queue.name, queue]));
    assert.deepEqual(byName.get('images.q'), {
      name: 'images.q',
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'images.dlx', 'x-delivery-limit': 20 },
    });
    assert.deepEqual(byName.get('images.dlx.q'), { name: 'images.dlx.q', durable: true, arguments: {} });
    assert.deepEqual(byName.get('images.q.suspect'), {
      name: 'images.q.suspect',
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': 'images.dlx',
        'x-dead-letter-routing-key': 'process_image',
        'x-delivery-limit': 20,
      },
    });
    assert.deepEqual(byName.get('images.q.retry.50ms'), {
      name: 'images.q.retry.50ms',
      durable: true,
      arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'images', 'x-dead-letter-routing-key': 'process_image' },
    });
    assert.deepEqual(byName.get('images.q.retry.100ms')?.arguments, {
      'x-message-ttl': 100,
      'x-dead-letter-exchange': 'images',
      'x-dead-letter-routing-key': 'process_image',
    });
    assert.equal(queues.length, 5, `queues: ${[...byName.keys()].join(', ')}`);
    assert.equal(topology.mainQueue, 'quorum');
    assert.deepEqual([...topology.retryQueues], [
      [50, 'images.q.retry.50ms'],
      [100, 'images.q.retry.100ms'],
    ]);

    const bindings = await rabbitmqctlJson<BindingInfo[]>(vhost.name, 'list_bindings', 'source_name', 'destination_name', 'routing_key');
    const explicit = bindings
      .filter((binding) => binding.source_name !== '')
      .map((binding) => `${binding.source_name} -[${binding.routing_key}]-> ${binding.destination_name}`)
      .sort();
    assert.deepEqual(explicit, ['images -[process_image]-> images.q', 'images.dlx -[process_image]-> images.dlx.q']);
  });

  it('can be declared again with the same arguments, and refuses to be changed', async () => {
    const config = topologyConfig();

    await assertTopology(connection, config, log);
    await assertTopology(connection, config, log);

    const queue = await channel.checkQueue('images.q');
    assert.equal(queue.queue, 'images.q');
    const scratch = await scratchChannel();
    await assert.rejects(scratch.assertQueue('images.q', { durable: true }), /PRECONDITION_FAILED/);
  });

  it('dead-letters a message rejected from the main queue into the dead-letter queue', async () => {
    await assertTopology(connection, topologyConfig(), log);
    await channel.purgeQueue('images.dlx.q');
    channel.publish('images', 'process_image', Buffer.from('{"id":"dl-1"}'), { messageId: 'dl-1', persistent: true });
    const delivered = await waitUntil('the message in images.q', async () => channel.get('images.q'), 5_000, 20);

    channel.reject(delivered, false);

    const deadLettered = await waitUntil('the message in images.dlx.q', async () => channel.get('images.dlx.q', { noAck: true }), 5_000, 20);
    assert.equal(deadLettered.properties.messageId, 'dl-1');
    assert.equal(deadLettered.content.toString(), '{"id":"dl-1"}');
  });

  it('sends a message parked in a retry queue back to the main queue once its delay is over', async () => {
    await assertTopology(connection, topologyConfig(), log);
    await channel.purgeQueue('images.q');
    const started = Date.now();

    channel.sendToQueue(retryQueueName('images.q', 100), Buffer.from('{"id":"r-1"}'), { messageId: 'r-1', persistent: true });

    const back = await waitUntil('the retried message in images.q', async () => channel.get('images.q', { noAck: true }), 5_000, 10);
    const waited = Date.now() - started;
    assert.equal(back.properties.messageId, 'r-1');
    assert.equal(back.fields.exchange, 'images');
    assert.equal(back.fields.routingKey, 'process_image');
    assert.ok(waited >= 90, `came back after ${waited} ms`);
  });

  it('counts the deliveries of a message that ended unsettled in x-delivery-count', async () => {
    const config = topologyConfig({ exchange: 'c1', queue: 'c1.q', dlx: 'c1.dlx', dlq: 'c1.dlx.q' });
    await assertTopology(connection, config, log);
    channel.publish('c1', 'process_image', Buffer.from('{"id":"c-1"}'), { messageId: 'c-1', persistent: true });

    const first = await waitUntil('the first delivery', async () => channel.get('c1.q'), 5_000, 20);
    assert.equal(first.properties.headers?.['x-delivery-count'], 0);
    channel.nack(first, false, true);
    const released = await waitUntil('the released message', async () => channel.get('c1.q'), 5_000, 20);
    assert.equal(released.properties.headers?.['x-delivery-count'], 1);

    channel.nack(released, false, true);
    const scratch = await scratchChannel();
    await waitUntil('the message on a channel that then closes', async () => scratch.get('c1.q'), 5_000, 20);
    await scratch.close();
    const afterLoss = await waitUntil('the message after the loss', async () => channel.get('c1.q', { noAck: true }), 5_000, 20);
    assert.equal(afterLoss.properties.headers?.['x-delivery-count'], 3);
  });

  it('dead-letters a message the broker delivered more than 20 times without a settlement', async () => {
    const config = topologyConfig({ exchange: 'l1', queue: 'l1.q', dlx: 'l1.dlx', dlq: 'l1.dlx.q' });
    await assertTopology(connection, config, log);
    channel.publish('l1', 'process_image', Buffer.from('{"id":"l-1"}'), { messageId: 'l-1', persistent: true });

    for (let delivery = 1; delivery <= 21; delivery += 1) {
      const message = await waitUntil(`delivery ${delivery}`, async () => channel.get('l1.q'), 5_000, 20);
      channel.nack(message, false, true);
    }

    const dead = await waitUntil('the message in l1.dlx.q', async () => channel.get('l1.dlx.q', { noAck: true }), 5_000, 20);
    assert.equal(dead.properties.messageId, 'l-1');
    assert.equal((await channel.checkQueue('l1.q')).messageCount, 0);
  });

  it('keeps working on a classic queue left by an earlier version, and says how to migrate', async () => {
    const config = topologyConfig({ exchange: 'k1', queue: 'k1.q', dlx: 'k1.dlx', dlq: 'k1.dlx.q' });
    await channel.assertQueue('k1.q', { durable: true, arguments: { 'x-dead-letter-exchange': 'k1.dlx' } });
    const logged = log.lines.length;

    const topology = await assertTopology(connection, config, log);

    assert.equal(topology.mainQueue, 'kept');
    const [warning] = log.lines.slice(logged).filter((line) => line.level === 'error');
    assert.match(warning?.message ?? '', /k1\.q exists with other arguments.*README, "Poison messages"/);
    assert.match(String((warning?.context as { broker?: unknown }).broker), /PRECONDITION_FAILED.*x-queue-type/);
    channel.publish('k1', 'process_image', Buffer.from('{}'));
    await waitUntil('the message in the classic k1.q', async () => (await channel.checkQueue('k1.q')).messageCount === 1, 5_000, 20);
    assert.equal((await channel.checkQueue('k1.dlx.q')).queue, 'k1.dlx.q');
  });

  it('uses its own names from the config', async () => {
    const config = topologyConfig({ exchange: 'x1', queue: 'x1.q', dlx: 'x1.dlx', dlq: 'x1.dlx.q', routingKey: 'rk', maxAttempts: 1 });

    const topology = await assertTopology(connection, config, log);

    assert.equal(topology.retryQueues.size, 0);
    assert.equal((await channel.checkQueue('x1.q')).queue, 'x1.q');
    assert.equal((await channel.checkQueue('x1.dlx.q')).queue, 'x1.dlx.q');
    channel.publish('x1', 'rk', Buffer.from('{}'));
    await waitUntil('the message in x1.q', async () => (await channel.checkQueue('x1.q')).messageCount === 1, 5_000, 20);
  });
});

describe('retryDelays', () => {
  it('has one delay per attempt that can still be retried, doubling from the base', () => {
    assert.deepEqual(retryDelays({ maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 60_000 }), [1000, 2000, 4000, 8000]);
  });

  it('collapses the delays capped by the maximum into one', () => {
    assert.deepEqual(retryDelays({ maxAttempts: 10, retryBaseMs: 1000, retryMaxMs: 10_000 }), [1000, 2000, 4000, 8000, 10_000]);
  });

  it('has none when a job gets a single attempt', () => {
    assert.deepEqual(retryDelays({ maxAttempts: 1, retryBaseMs: 1000, retryMaxMs: 60_000 }), []);
  });
});
