import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { AmqpDeadLetters } from '#adapters/amqp/amqp-dead-letters.ts';
import { assertTopology } from '#adapters/amqp/topology.ts';
import { buildHttpApp } from '#adapters/http/build-http-app.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryLogger } from '#test/fakes/support.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';
import { createTestVhost, type TestVhost } from '#test/support/rabbit-vhost.ts';
import { topologyConfig } from '#test/support/topology-config.ts';
import { waitUntil } from '#test/support/wait-until.ts';

const config = topologyConfig();

describe('AmqpDeadLetters on a real RabbitMQ', () => {
  let vhost: TestVhost;
  let connection: ChannelModel;
  let channel: Channel;
  let jobs: MemoryImagesRepo;
  let dlq: AmqpDeadLetters;

  before(async () => {
    vhost = await createTestVhost();
    connection = await amqp.connect(vhost.url);
  });

  after(async () => {
    await connection?.close();
    await vhost?.delete();
  });

  beforeEach(async () => {
    channel = await connection.createChannel();
    await assertTopology(connection, config, new MemoryLogger());
    await channel.purgeQueue(config.queue);
    await channel.purgeQueue(config.dlq);
    jobs = new MemoryImagesRepo();
    dlq = new AmqpDeadLetters({ url: vhost.url, config, jobs, batchSize: 4 });
  });

  afterEach(async () => {
    await channel.close();
  });

  /** A dead letter as the worker writes it: a copy to the DLX with the reason headers. */
  function deadLetter(id: string, code: string, extraHeaders: Record<string, unknown> = {}): void {
    const body = Buffer.from(JSON.stringify({ id, url: `https://images.test/${id}.jpg`, ops: ['thumbnail'] }));
    channel.publish(config.dlx, config.routingKey, body, {
      persistent: true,
      contentType: 'application/json',
      messageId: id,
      headers: { 'x-error-code': code, 'x-error-message': `${code} for ${id}`, 'x-attempts': 2, traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, ...extraHeaders },
    });
  }

  async function depth(queue: string): Promise<number> {
    return (await channel.checkQueue(queue)).messageCount;
  }

  async function waitForDepth(queue: string, count: number): Promise<void> {
    await waitUntil(`${count} messages in ${queue}`, async () => (await depth(queue)) === count, 30_000, 20);
  }

  async function drain(queue: string): Promise<amqp.GetMessage[]> {
    const messages: amqp.GetMessage[] = [];
    for (let message = await channel.get(queue, { noAck: true }); message; message = await channel.get(queue, { noAck: true })) {
      messages.push(message);
    }
    return messages;
  }

  it('counts dead letters by code and shows the newest first, leaving every one in place, in order', async () => {
    ['a', 'b', 'c', 'd', 'e'].forEach((id, index) => deadLetter(id, index % 2 === 0 ? 'HTTP_404' : 'NOT_AN_IMAGE'));
    await waitForDepth(config.dlq, 5);

    const summary = await dlq.list(2);

    assert.equal(summary.total, 5);
    assert.deepEqual(summary.byCode, { HTTP_404: 3, NOT_AN_IMAGE: 2 });
    assert.deepEqual(summary.newest, [
      { id: 'e', code: 'HTTP_404', message: 'HTTP_404 for e', attempts: 2 },
      { id: 'd', code: 'NOT_AN_IMAGE', message: 'NOT_AN_IMAGE for d', attempts: 2 },
    ]);
    const left = await drain(config.dlq);
    assert.deepEqual(left.map((message) => message.properties.messageId), ['a', 'b', 'c', 'd', 'e']);
  });

  it('names a message the broker dead-lettered itself by its x-death reason', async () => {
    const body = Buffer.from(JSON.stringify({ id: 'r', url: 'https://images.test/r.jpg' }));
    channel.publish(config.dlx, config.routingKey, body, {
      messageId: 'r',
      headers: { 'x-death': [{ reason: 'rejected', queue: 'images.q', count: 1, exchange: 'images', 'routing-keys': ['process_image'] }] },
    });
    await waitForDepth(config.dlq, 1);

    const summary = await dlq.list(5);

    assert.deepEqual(summary.newest, [{ id: 'r', code: 'BROKER_REJECTED', message: 'dead-lettered by the broker (rejected) from images.q', attempts: undefined }]);
  });

  it('replays every dead letter to the main queue without the failure headers, and clears the failed marks', async () => {
    for (let n = 1; n <= 10; n += 1) {
      const job = { id: `j${n}`, url: `https://images.test/j${n}.jpg` };
      await jobs.markFailed(job, { code: 'HTTP_404', message: 'gone' }, 2);
      deadLetter(job.id, 'HTTP_404', { 'x-death': [{ reason: 'rejected', queue: 'images.q', count: 1 }] });
    }
    await waitForDepth(config.dlq, 10);
    const progress: number[] = [];

    const summary = await dlq.replay({ onProgress: ({ replayed }) => progress.push(replayed) });

    assert.deepEqual(summary, { examined: 10, matched: 10, replayed: 10, failed: 0, dryRun: false });
    assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(await depth(config.dlq), 0);
    const replayed = await drain(config.queue);
    assert.equal(replayed.length, 10);
    for (const message of replayed) {
      // A quorum queue adds its own x-delivery-count as it delivers: 0 for a copy that starts afresh.
      const { 'x-delivery-count': deliveries = 0, ...headers } = message.properties.headers ?? {};
      assert.deepEqual(Object.keys(headers), ['traceparent']);
      assert.equal(deliveries, 0);
      assert.equal(message.properties.deliveryMode, 2);
      assert.equal(JSON.parse(message.content.toString()).id, message.properties.messageId);
    }
    assert.deepEqual(new Set([...jobs.jobs.values()].map((record) => record.state)), new Set(['queued']));
  });

  it('replays only the code, the id or the number asked for, and leaves the rest in place', async () => {
    ['a', 'b', 'c', 'd', 'e', 'f'].forEach((id, index) => deadLetter(id, index < 4 ? 'TIMEOUT' : 'HTTP_404'));
    await waitForDepth(config.dlq, 6);

    const handled: number[] = [];
    const byCode = await dlq.replay({ code: 'TIMEOUT', limit: 3, onProgress: (progress) => handled.push(progress.handled) });
    const byId = await dlq.replay({ id: 'f' });

    assert.deepEqual([byCode.replayed, byId.replayed], [3, 1]);
    assert.deepEqual(handled, [1, 2, 3], 'the scan stopped at the limit, every message handled');
    const main = await drain(config.queue);
    assert.deepEqual(main.map((message) => message.properties.messageId), ['a', 'b', 'c', 'f']);
    const left = await drain(config.dlq);
    assert.deepEqual(left.map((message) => message.properties.messageId), ['d', 'e']);
  });

  it('changes nothing on a dry run', async () => {
    ['a', 'b'].forEach((id) => deadLetter(id, 'HTTP_404'));
    await waitForDepth(config.dlq, 2);
    await jobs.markFailed({ id: 'a', url: 'https://images.test/a.jpg' }, { code: 'HTTP_404', message: 'gone' });

    const summary = await dlq.replay({ dryRun: true });

    assert.deepEqual(summary, { examined: 2, matched: 2, replayed: 0, failed: 0, dryRun: true });
    assert.equal(await depth(config.dlq), 2);
    assert.equal(await depth(config.queue), 0);
    assert.equal(jobs.jobs.get('a')?.state, 'failed');
  });

  it('leaves the dead letters in place when the failed marks cannot be cleared', async () => {
    ['a', 'b'].forEach((id) => deadLetter(id, 'HTTP_404'));
    await waitForDepth(config.dlq, 2);
    jobs.down = true;

    await assert.rejects(dlq.replay({}), { code: 'DATABASE_UNAVAILABLE' });

    await waitForDepth(config.dlq, 2);
    assert.equal(await depth(config.queue), 0);
  });

  it('is offered over HTTP: GET /dlq lists, POST /dlq/replay replays, bad filters are a 400', async () => {
    ['a', 'b', 'c'].forEach((id, index) => deadLetter(id, index === 0 ? 'TIMEOUT' : 'HTTP_404'));
    await waitForDepth(config.dlq, 3);
    const publisher = new MemoryPublisher();
    const app = buildHttpApp({ enqueue: { images: jobs, publisher }, task: { publisher, jobs }, healthz: { dependencies: [] }, deadLetters: dlq });
    try {
      const listed = await app.inject({ method: 'GET', url: '/dlq?newest=1' });
      const replayed = await app.inject({ method: 'POST', url: '/dlq/replay', payload: { code: 'HTTP_404', dryRun: false } });
      const refused = await app.inject({ method: 'POST', url: '/dlq/replay', payload: { code: 'x y' } });

      assert.equal(listed.statusCode, 200);
      assert.deepEqual(listed.json().byCode, { TIMEOUT: 1, HTTP_404: 2 });
      assert.deepEqual(listed.json().newest.map((letter: { id: string }) => letter.id), ['c']);
      assert.deepEqual(replayed.json(), { examined: 3, matched: 2, replayed: 2, failed: 0, dryRun: false });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().field, 'code');
      assert.equal(await depth(config.queue), 2);
    } finally {
      await app.close();
    }
  });
});
