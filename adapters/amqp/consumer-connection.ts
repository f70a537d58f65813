import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { errorCode, errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';
import { retryDelay } from '#adapters/jobs/retry-delay.ts';
import { connectAmqp, describeBroker } from './connect.ts';
import { ConfirmedChannel } from './confirmed-channel.ts';
import { assertTopology, suspectQueueName, type TopologyConfig } from './topology.ts';

/** One connection's consuming and publishing channels. Once `lost`, nothing may be settled on it. */
export interface ConsumerSession {
  readonly connection: ChannelModel;
  /** Consumes and acks. */
  readonly channel: Channel;
  /** Publishes retries and dead letters, with confirms. */
  readonly publisher: ConfirmedChannel;
  readonly retryQueues: Map<number, string>;
  /** The consumers on `QUEUE` and on its suspect queue. */
  consumerTags: string[];
  lost: boolean;
}

export interface ConsumerConnectionOptions {
  /** `RABBIT_URL`. */
  readonly url: string;
  readonly config: TopologyConfig & { readonly prefetch: number };
  readonly log: Logger;
  /** Longest wait between reconnection attempts. Default 30 s. */
  readonly reconnectMaxDelayMs?: number;
  /** Shown in the broker's management UI. */
  readonly connectionName?: string;
  /** Each delivery, with the session it arrived on; `suspect` when it came from the suspect queue. */
  readonly onMessage: (session: ConsumerSession, message: ConsumeMessage, suspect: boolean) => void;
  /** A session died; its unsettled messages are back on the queue. */
  readonly onLost: (session: ConsumerSession) => void;
}

const FIRST_RECONNECT_DELAY_MS = 500;

/**
 * Keeps one consumer registered on `QUEUE` and one on its suspect queue:
 * connects, declares the topology, consumes `QUEUE` with `prefetch` and the
 * suspect queue one message at a time; when the connection or a channel drops, it
 * says so (`onLost`) and reconnects with backoff until it consumes again or
 * {@link stop} is called.
 */
export class ConsumerConnection {
  readonly #options: ConsumerConnectionOptions;
  /** Interrupts reconnection waits as soon as `stop()` starts. */
  readonly #stopReconnecting = new AbortController();
  #session: ConsumerSession | undefined;
  #connecting: Promise<void> | undefined;
  #stopped = false;

  constructor(options: ConsumerConnectionOptions) {
    this.#options = options;
  }

  /** True while a consumer is registered and `stop()` has not begun. */
  get consuming(): boolean {
    return this.#session !== undefined && !this.#stopped;
  }

  /** Resolves once consuming, or once `stop()` comes first; logs each failure meanwhile. */
  start(): Promise<void> {
    if (this.#session) return Promise.resolve();
    this.#connecting ??= this.#connectUntilConsuming();
    return this.#connecting;
  }

  /** Stops reconnecting and cancels the consumers; the channels stay open to settle what is running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopReconnecting.abort();
    await this.#connecting;
    const session = this.#session;
    if (!session || session.lost) return;
    for (const consumerTag of session.consumerTags) {
      try {
        await session.channel.cancel(consumerTag);
      } catch (error) {
        this.#options.log.warn({ err: errorSummary(error) }, 'could not cancel the consumer');
      }
    }
  }

  /** Closes the channels and the connection. Call after `stop()` and once nothing runs. */
  async close(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    this.#session = undefined;
    session.lost = true;
    await closeQuietly(() => session.publisher.close());
    await closeQuietly(() => session.channel.close());
    await closeQuietly(() => session.connection.close());
  }

  async #connectUntilConsuming(): Promise<void> {
    const { url, log, reconnectMaxDelayMs = 30_000 } = this.#options;
    for (let failures = 1; !this.#stopped; failures += 1) {
      try {
        await this.#openSession();
        this.#connecting = undefined;
        return;
      } catch (error) {
        const delayMs = retryDelay(failures, FIRST_RECONNECT_DELAY_MS, reconnectMaxDelayMs);
        log.error({ broker: describeBroker(url), code: errorCode(error), err: errorSummary(error), retryInMs: delayMs }, 'cannot consume; retrying');
        await sleep(delayMs, undefined, { signal: this.#stopReconnecting.signal }).catch(() => {});
      }
    }
  }

  async #openSession(): Promise<void> {
    const { url, config, log, connectionName = 'imgpipe worker' } = this.#options;
    const connection = await connectAmqp(url, { connectionName });
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      const publisher = new ConfirmedChannel(await connection.createConfirmChannel());
      const topology = await assertTopology(connection, config, log);
      await channel.prefetch(config.prefetch);
      const session: ConsumerSession = {
        connection,
        channel,
        publisher,
        retryQueues: new Map(topology.retryQueues),
        consumerTags: [],
        lost: false,
      };
      connection.once('close', () => this.#lose(session, 'the broker connection closed'));
      channel.once('close', () => this.#lose(session, 'the consuming channel closed'));
      publisher.channel.once('close', () => this.#lose(session, 'the publishing channel closed'));
      if (this.#stopped) throw new Error('closed while connecting');
      const consume = async (queue: string, suspect: boolean) => {
        const { consumerTag } = await channel.consume(
          queue,
          (message) => {
            if (message) this.#options.onMessage(session, message, suspect);
            else this.#lose(session, 'the broker cancelled the consumer');
          },
          { noAck: false },
        );
        session.consumerTags.push(consumerTag);
      };
      await consume(config.queue, false);
      // The prefetch applies per consumer, to those created after it.
      await channel.prefetch(1);
      await consume(suspectQueueName(config.queue), true);
      if (session.lost) throw new Error('the connection dropped while the consumer started');
      this.#session = session;
      log.info({ broker: describeBroker(url), queue: config.queue, prefetch: config.prefetch }, 'consuming');
    } catch (error) {
      await closeQuietly(() => connection.close());
      throw error;
    }
  }

  #lose(session: ConsumerSession, reason: string): void {
    if (session.lost) return;
    session.lost = true;
    if (this.#session === session) this.#session = undefined;
    this.#options.onLost(session);
    void closeQuietly(() => session.connection.close());
    if (this.#stopped) return;
    this.#options.log.warn({ reason }, 'stopped consuming; reconnecting');
    this.#connecting ??= this.#connectUntilConsuming();
  }
}

async function closeQuietly(close: () => Promise<void>): Promise<void> {
  try {
    await close();
  } catch {
    // Already closed, or the broker is gone: nothing left to release.
  }
}
