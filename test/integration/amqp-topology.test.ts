import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { assertTopology, retryDelays, retryQueueName } from '#adapters/amqp/topology.ts';
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

    const topology = await assertTopology(channel, config);

    await channel.checkExchange('images');
    await channel.checkExchange('images.dlx');
    const raw = await rabbitmqctlJson<RawQueueInfo[]>(vhost.name, 'list_queues', 'name', 'durable', 'arguments');
    const queues: QueueInfo[] = raw.map((queue) => ({
      ...queue,
      arguments: Object.fromEntries(queue.arguments.map(([name, , value]) => [name, value])),
    }));
    const byName = new Map(queues.map((queue) => [queue.name, queue]));
    assert.deepEqual(byName.get('images.q'), { name: 'images.q', durable: true, arguments: { 'x-dead-letter-exchange': 'images.dlx' } });
    assert.deepEqual(byName.get('images.dlx.q'), { name: 'images.dlx.q', durable: true, arguments: {} });
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
    assert.equal(queues.length, 4, `queues: ${[...byName.keys()].join(', ')}`);
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

    await assertTopology(channel, config);
    await assertTopology(channel, config);

    const queue = await channel.checkQueue('images.q');
    assert.equal(queue.queue, 'images.q');
    const scratch = await scratchChannel();
    await assert.rejects(scratch.assertQueue('images.q', { durable: true }), /PRECONDITION_FAILED/);
  });

  it('dead-letters a message rejected from the main queue into the dead-letter queue', async () => {
    await assertTopology(channel, topologyConfig());
    await channel.purgeQueue('images.dlx.q');
    channel.publish('images', 'process_image', Buffer.from('{"id":"dl-1"}'), { messageId: 'dl-1', persistent: true });
    const delivered = await waitUntil('the message in images.q', async () => channel.get('images.q'), 5_000, 20);

    channel.reject(delivered, false);

    const deadLettered = await waitUntil('the message in images.dlx.q', async () => channel.get('images.dlx.q', { noAck: true }), 5_000, 20);
    assert.equal(deadLettered.properties.messageId, 'dl-1');
    assert.equal(deadLettered.content.toString(), '{"id":"dl-1"}');
  });

  it('sends a message parked in a retry queue back to the main queue once its delay is over', async () => {
    await assertTopology(channel, topologyConfig());
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

  it('uses its own names from the config', async () => {
    const config = topologyConfig({ exchange: 'x1', queue: 'x1.q', dlx: 'x1.dlx', dlq: 'x1.dlx.q', routingKey: 'rk', maxAttempts: 1 });

    const topology = await assertTopology(channel, config);

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
