import type { ChannelModel } from 'amqplib';
import { errorSummary, TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { JobPublisher, Logger } from '#functions/ports.ts';
import { producerSpans, type ProducerSpan } from '#adapters/telemetry/message-tracing.ts';
import { connectAmqp } from './connect.ts';
import { ConfirmedChannel } from './confirmed-channel.ts';
import { assertTopology, type TopologyConfig } from './topology.ts';

export interface AmqpPublisherOptions {
  /** `RABBIT_URL`. */
  readonly url: string;
  readonly config: TopologyConfig;
  readonly log: Logger;
  /** Shown in the broker's management UI. */
  readonly connectionName?: string;
}

interface Session {
  readonly connection: ChannelModel;
  readonly channel: ConfirmedChannel;
}

/**
 * {@link JobPublisher} on RabbitMQ: one job per message to `EXCHANGE` with
 * `ROUTING_KEY`, persistent, `contentType: application/json`, `messageId` = job
 * id, `mandatory`, trace context in the headers (one producer span per message,
 * ended on its confirm; without a tracing SDK, the request's context for all).
 * A batch is written without waiting message by message, then its confirms are
 * awaited together; a nack or a return rejects the batch with a
 * `TransientError` (`PUBLISH_REFUSED` / `UNROUTABLE`).
 *
 * The publisher owns its connection: opened (and the topology declared) on first
 * use, reopened on the next call after it drops. `ping()` fails while the broker
 * is unreachable. `close()` is safe to call twice.
 *
 * @example
 * const publisher = new AmqpPublisher({ url: config.rabbitUrl, config, log });
 * await publisher.publish([{ id: '42', url, ops: ['thumbnail'] }]);
 * await publisher.close();
 */
export class AmqpPublisher implements JobPublisher {
  readonly #options: AmqpPublisherOptions;
  #session: Promise<Session> | undefined;
  #closed = false;

  constructor(options: AmqpPublisherOptions) {
    this.#options = options;
  }

  async publish(jobs: readonly Job[]): Promise<void> {
    if (jobs.length === 0) return;
    const { channel } = await this.#open();
    const { exchange, routingKey } = this.#options.config;
    const spanFor = producerSpans({ exchange, routingKey });
    const spans: ProducerSpan[] = new Array<ProducerSpan>(jobs.length);
    await channel.publishAll(
      exchange,
      routingKey,
      jobs.length,
      (index) => {
        const job = jobs[index]!;
        const span = spanFor(job.id);
        spans[index] = span;
        return {
          content: Buffer.from(JSON.stringify(job)),
          options: { persistent: true, contentType: 'application/json', messageId: job.id, mandatory: true, headers: span.headers },
        };
      },
      (index, error) => spans[index]?.end(error),
    );
  }

  async ping(): Promise<void> {
    const { channel } = await this.#open();
    try {
      await channel.channel.checkExchange(this.#options.config.exchange);
    } catch (error) {
      throw new TransientError('BROKER_UNAVAILABLE', `the broker did not answer: ${errorSummary(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    try {
      const { connection } = await session;
      await connection.close();
    } catch {
      // Never opened, or already gone: nothing left to release.
    }
  }

  #open(): Promise<Session> {
    if (this.#closed) return Promise.reject(new TransientError('PUBLISHER_CLOSED', 'the publisher is closed'));
    if (!this.#session) {
      const session = this.#connect(() => {
        if (this.#session !== session) return;
        this.#session = undefined;
        if (!this.#closed) this.#options.log.warn({}, 'broker connection lost; reconnecting on the next publish');
      });
      this.#session = session;
      session.catch(() => {
        if (this.#session === session) this.#session = undefined;
      });
    }
    return this.#session;
  }

  async #connect(onLost: () => void): Promise<Session> {
    const { url, config, connectionName = 'imgpipe publisher' } = this.#options;
    const connection = await connectAmqp(url, { connectionName });
    try {
      const raw = await connection.createConfirmChannel();
      const channel = new ConfirmedChannel(raw);
      await assertTopology(connection, config, this.#options.log);
      const session: Session = { connection, channel };
      connection.once('close', onLost);
      raw.once('close', () => {
        // A channel closed by the broker (an error on it) leaves the connection open: drop both.
        onLost();
        connection.close().catch(() => {});
      });
      return session;
    } catch (error) {
      await connection.close().catch(() => {});
      throw new TransientError('BROKER_UNAVAILABLE', `could not set up the broker channel: ${errorSummary(error)}`, { cause: error });
    }
  }
}
