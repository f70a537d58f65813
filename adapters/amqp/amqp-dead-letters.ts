import type { Channel, ChannelModel, GetMessage, Options } from 'amqplib';
import type { Config } from '#adapters/config.ts';
import type { DeadLetter, DeadLetterQueue, DeadLetterSummary, JobsRepo, QueueStats, ReplayOptions, ReplaySummary } from '#functions/ports.ts';
import { connectAmqp } from './connect.ts';
import { BROKER_HEADERS } from './amqp-settler.ts';
import { ConfirmedChannel } from './confirmed-channel.ts';

export interface AmqpDeadLettersOptions {
  /** `RABBIT_URL`. */
  readonly url: string;
  readonly config: Pick<Config, 'exchange' | 'routingKey' | 'queue' | 'dlq'>;
  /** Whose failed marks a replay clears. */
  readonly jobs: Pick<JobsRepo, 'clearFailed'>;
  readonly connectionName?: string;
  /** `list` reads at most this many messages (default 10 000); beyond, it counts them as `NOT_READ`. */
  readonly maxScan?: number;
  /** A replay republishes this many messages, then awaits their confirms (default 100). */
  readonly batchSize?: number;
}

/** Headers that describe an earlier failure or delivery: a replayed job starts its attempts afresh. */
const isFailureHeader = (name: string) => /^x-(attempts$|error-)/.test(name) || BROKER_HEADERS.test(name);

/**
 * {@link DeadLetterQueue} on RabbitMQ, without the management plugin: one
 * connection per call, messages read with `basic.get` and left unacknowledged
 * while the call runs, so a second reader never sees them twice; whatever is
 * not replayed goes back with `nack(requeue)`, in its place.
 *
 * A replay reads a batch, clears the failed mark of its jobs, republishes it
 * to `EXCHANGE` with `ROUTING_KEY` on a confirm channel (persistent,
 * `mandatory`, the same body, `messageId` and trace context, the failure
 * headers stripped), and acks each dead letter once its own copy is
 * confirmed. A crash in between leaves the dead letter in place and maybe its
 * copy queued too: a duplicate, which the worker skips, never a loss. A copy
 * the broker refuses leaves its dead letter where it was.
 *
 * @example
 * const dlq = new AmqpDeadLetters({ url: config.rabbitUrl, config, jobs: images });
 * await dlq.list(10);                         // → { total: 3, byCode: { HTTP_404: 3 }, newest: [ … ] }
 * await dlq.replay({ code: 'HTTP_404' });     // → { examined: 3, matched: 3, replayed: 3, failed: 0, dryRun: false }
 */
export class AmqpDeadLetters implements DeadLetterQueue {
  readonly #options: AmqpDeadLettersOptions;

  constructor(options: AmqpDeadLettersOptions) {
    this.#options = options;
  }

  async list(newest: number): Promise<DeadLetterSummary> {
    return this.#withConnection((connection) => this.#tally(connection, newest));
  }

  /** The main queue's depth and the dead letters by code, over one connection. */
  async queueStats(): Promise<QueueStats> {
    return this.#withConnection(async (connection) => {
      const channel = await connection.createChannel();
      const { messageCount: queued } = await channel.checkQueue(this.#options.config.queue);
      await channel.close();
      const dead = await this.#tally(connection, 0);
      return { queued, deadLettered: dead.total, deadByCode: dead.byCode };
    });
  }

  async #tally(connection: ChannelModel, newest: number): Promise<DeadLetterSummary> {
    const { dlq } = this.#options.config;
    const reader = await connection.createChannel();
    const { messageCount } = await reader.checkQueue(dlq);
    const byCode: Record<string, number> = {};
    const latest: DeadLetter[] = [];
    let read = 0;
    for (const message of await takeUpTo(reader, dlq, Math.min(messageCount, this.#options.maxScan ?? 10_000))) {
      read += 1;
      const letter = describeDeadLetter(message);
      byCode[letter.code] = (byCode[letter.code] ?? 0) + 1;
      latest.push(letter);
      if (latest.length > newest) latest.shift();
    }
    if (messageCount > read) byCode.NOT_READ = messageCount - read;
    reader.nackAll(true);
    await reader.close();
    return { total: Math.max(messageCount, read), byCode, newest: latest.reverse() };
  }

  async replay(options: ReplayOptions): Promise<ReplaySummary> {
    const { config, jobs, batchSize = 100 } = this.#options;
    return this.#withConnection(async (connection) => {
      const reader = await connection.createChannel();
      const writer = new ConfirmedChannel(await connection.createConfirmChannel());
      await writer.channel.checkExchange(config.exchange);
      const { messageCount } = await reader.checkQueue(config.dlq);
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      const filtered = options.code !== undefined || options.id !== undefined;
      const total = filtered ? messageCount : Math.min(messageCount, limit);
      const counts = { examined: 0, matched: 0, replayed: 0, failed: 0 };
      let handled = 0;
      const handle = () => {
        handled += 1;
        options.onProgress?.({ handled, total, replayed: counts.replayed });
      };

      const replayBatch = async (batch: GetMessage[]) => {
        if (batch.length === 0) return;
        await jobs.clearFailed(batch.map((message) => jobIdOf(message)).filter((id) => id !== undefined));
        await Promise.all(
          batch.map(async (message) => {
            try {
              await writer.publish(config.exchange, config.routingKey, message.content, republishOptions(message));
            } catch {
              counts.failed += 1;
              reader.nack(message, false, true);
              handle();
              return;
            }
            counts.replayed += 1;
            handle();
            reader.ack(message);
          }),
        );
      };

      let batch: GetMessage[] = [];
      // Bounded by the depth at the start, so messages put back meanwhile are not read again.
      while (counts.examined < messageCount && counts.matched < limit) {
        const message = await reader.get(config.dlq, { noAck: false });
        if (message === false) break;
        counts.examined += 1;
        const replaying = matches(message, options) && counts.matched < limit;
        if (replaying) counts.matched += 1;
        if (!replaying || options.dryRun) {
          handle();
          continue;
        }
        batch.push(message);
        if (batch.length >= batchSize) {
          await replayBatch(batch);
          batch = [];
        }
      }
      await replayBatch(batch);
      // Whatever was read and not replayed (other codes, a dry run) goes back in its place.
      reader.nackAll(true);
      await reader.close();
      await writer.close();
      return { ...counts, dryRun: options.dryRun === true };
    });
  }

  async #withConnection<T>(use: (connection: ChannelModel) => Promise<T>): Promise<T> {
    const connection = await connectAmqp(this.#options.url, { connectionName: this.#options.connectionName ?? 'imgpipe dlq' });
    try {
      return await use(connection);
    } finally {
      await connection.close().catch(() => {});
    }
  }
}

async function takeUpTo(channel: Channel, queue: string, count: number): Promise<GetMessage[]> {
  const messages: GetMessage[] = [];
  while (messages.length < count) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) break;
    messages.push(message);
  }
  return messages;
}

function matches(message: GetMessage, options: ReplayOptions): boolean {
  if (options.id !== undefined && jobIdOf(message) !== options.id) return false;
  if (options.code !== undefined && describeDeadLetter(message).code !== options.code) return false;
  return true;
}

/** The same message, for the main exchange: failure headers stripped, everything else kept. */
function republishOptions(message: GetMessage): Options.Publish {
  const { properties } = message;
  const headers = Object.fromEntries(Object.entries(properties.headers ?? {}).filter(([name]) => !isFailureHeader(name)));
  return {
    persistent: true,
    mandatory: true,
    contentType: properties.contentType ?? 'application/json',
    messageId: properties.messageId as string | undefined,
    headers,
  };
}

/** What a dead letter says about itself: our reason headers, else the broker's own `x-death`. */
export function describeDeadLetter(message: GetMessage): DeadLetter {
  const headers = message.properties.headers ?? {};
  const death = firstDeath(headers['x-death']);
  const code = text(headers['x-error-code']) ?? (death ? `BROKER_${death.reason.toUpperCase()}` : 'UNKNOWN');
  const reason = text(headers['x-error-message']) ?? (death ? `dead-lettered by the broker (${death.reason}) from ${death.queue}` : '');
  const attempts = Number(headers['x-attempts']);
  return { id: jobIdOf(message), code, message: reason, attempts: Number.isFinite(attempts) && headers['x-attempts'] !== undefined ? attempts : undefined };
}

function jobIdOf(message: GetMessage): string | undefined {
  const messageId = message.properties.messageId as unknown;
  if (typeof messageId === 'string' && messageId !== '') return messageId;
  try {
    const id = (JSON.parse(message.content.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function firstDeath(value: unknown): { reason: string; queue: string } | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const entry = value[0] as { reason?: unknown; queue?: unknown };
  return { reason: text(entry.reason) ?? 'unknown', queue: text(entry.queue) ?? 'unknown' };
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}
