import type { Channel } from 'amqplib';
import type { Config } from '#adapters/config.ts';
import { retryDelay } from '#adapters/jobs/retry-delay.ts';

/** The config a topology is declared from. */
export type TopologyConfig = Pick<
  Config,
  'exchange' | 'queue' | 'dlx' | 'dlq' | 'routingKey' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs'
>;

export interface Topology {
  /** Retry queue per delay, in milliseconds, as declared. */
  readonly retryQueues: ReadonlyMap<number, string>;
}

/** The retry queue that holds a message for `delayMs` before it goes back to the main exchange. */
export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${delayMs}ms`;
}

/**
 * Every distinct delay a job can wait before its next attempt: one per failed
 * attempt that still leaves attempts (1 .. MAX_ATTEMPTS-1), capped by
 * RETRY_MAX_MS, so repeats collapse.
 */
export function retryDelays(config: Pick<Config, 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs'>): number[] {
  const delays = new Set<number>();
  for (let failed = 1; failed < config.maxAttempts; failed += 1) {
    delays.add(retryDelay(failed, config.retryBaseMs, config.retryMaxMs));
  }
  return [...delays].sort((a, b) => a - b);
}

/** The arguments of a retry queue: hold for `delayMs`, then dead-letter back to the main exchange. */
export function retryQueueArguments(config: Pick<Config, 'exchange' | 'routingKey'>, delayMs: number): Record<string, unknown> {
  return {
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': config.exchange,
    'x-dead-letter-routing-key': config.routingKey,
  };
}

/**
 * Declares the broker side, idempotently (docs/architecture.md, "RabbitMQ topology"):
 *
 * | name                     | what                                                                 |
 * | ------------------------ | -------------------------------------------------------------------- |
 * | `images`                 | direct exchange, durable                                             |
 * | `images.q`               | durable queue bound with `process_image`, `x-dead-letter-exchange=images.dlx` |
 * | `images.dlx`             | direct exchange, durable                                             |
 * | `images.dlx.q`           | durable queue bound to `images.dlx` with `process_image`             |
 * | `images.q.retry.<ms>ms`  | durable queue per retry delay, bound to nothing, `x-message-ttl=<ms>`, dead-letters to `images` with `process_image` |
 *
 * A retry is published to its queue through the default exchange (routing key =
 * queue name). One queue per delay, rather than one queue with per-message TTLs,
 * because a queue expires messages only from its head: a 1 s retry would wait
 * behind a 60 s one.
 *
 * Redeclaring with different arguments fails with PRECONDITION_FAILED (406) and
 * closes the channel: the names carry their arguments, so change a name when
 * changing its arguments.
 */
export async function assertTopology(channel: Channel, config: TopologyConfig): Promise<Topology> {
  await channel.assertExchange(config.exchange, 'direct', { durable: true });
  await channel.assertExchange(config.dlx, 'direct', { durable: true });
  await channel.assertQueue(config.queue, { durable: true, arguments: { 'x-dead-letter-exchange': config.dlx } });
  await channel.bindQueue(config.queue, config.exchange, config.routingKey);
  await channel.assertQueue(config.dlq, { durable: true });
  await channel.bindQueue(config.dlq, config.dlx, config.routingKey);

  const retryQueues = new Map<number, string>();
  for (const delayMs of retryDelays(config)) {
    const name = retryQueueName(config.queue, delayMs);
    await channel.assertQueue(name, { durable: true, arguments: retryQueueArguments(config, delayMs) });
    retryQueues.set(delayMs, name);
  }
  return { retryQueues };
}
