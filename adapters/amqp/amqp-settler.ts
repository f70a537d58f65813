import type { ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';
import { errorCode, errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';
import type { Settler } from '#adapters/jobs/dispatcher.ts';
import type { FailureHeaders, Settlement } from '#adapters/jobs/run-job.ts';
import type { ConsumerSession } from './consumer-connection.ts';
import { retryQueueArguments, retryQueueName, suspectQueueName, type TopologyConfig } from './topology.ts';

/** A delivery with the session it arrived on: only that session's channel may settle it. */
export interface Received {
  readonly session: ConsumerSession;
  readonly message: ConsumeMessage;
}

/** Headers the broker writes when it dead-letters or delivers; it writes them afresh each time. */
export const BROKER_HEADERS = /^x-(death|first-death-|last-death-|delivery-count$)/;

/**
 * Settles deliveries on RabbitMQ:
 *
 * | outcome              | on the broker                                                                  |
 * | -------------------- | ------------------------------------------------------------------------------ |
 * | `written`, `skipped` | ack                                                                            |
 * | `retried`            | copy (same body and properties, original headers + failure headers) to `<QUEUE>.retry.<ms>ms`, confirmed, then ack |
 * | `dead-lettered`      | copy with `x-error-code`, `x-error-message`, `x-attempts` to `DLX`/`ROUTING_KEY`, confirmed, then ack |
 * | `released`           | nack with requeue                                                              |
 *
 * And before any job runs, {@link quarantine} moves a message that came back
 * unsettled from `QUEUE` to its suspect queue (copy, confirmed, then ack).
 *
 * When a copy cannot be published, the original is rejected without requeue,
 * so the queue's own `x-dead-letter-exchange` still dead-letters it: never a
 * requeue loop, nothing lost. Nothing is sent on a lost session: its unsettled
 * deliveries are back on the queue already, and an ack for them would close
 * the new channel with a PRECONDITION_FAILED.
 */
export class AmqpSettler implements Settler<Received> {
  constructor(
    private readonly config: TopologyConfig,
    private readonly log: Logger,
  ) {}

  ack({ session, message }: Received): void {
    if (session.lost) return;
    try {
      session.channel.ack(message);
    } catch (error) {
      this.log.warn({ messageId: message.properties.messageId, err: errorSummary(error) }, 'could not ack; the broker will redeliver');
    }
  }

  release(received: Received): void {
    this.#nack(received, true);
  }

  async retry(received: Received, settlement: Extract<Settlement, { outcome: 'retried' }>): Promise<void> {
    await this.#forward(received, settlement.headers, async () => ({ exchange: '', routingKey: await this.#retryQueue(received.session, settlement.delayMs) }));
  }

  async deadLetter(received: Received, settlement: Extract<Settlement, { outcome: 'dead-lettered' }>): Promise<void> {
    await this.#forward(received, settlement.headers, async () => ({ exchange: this.config.dlx, routingKey: this.config.routingKey }));
  }

  /**
   * Moves a message of `QUEUE` that came back unsettled to the suspect queue,
   * where workers hold one message at a time. If the copy cannot be published,
   * the original goes back to `QUEUE`.
   */
  async quarantine(received: Received): Promise<void> {
    const { session, message } = received;
    try {
      await session.publisher.publish('', suspectQueueName(this.config.queue), message.content, copyProperties(message, {}));
      this.ack(received);
      this.log.info({ messageId: message.properties.messageId }, 'came back unsettled: moved to the suspect queue');
    } catch (error) {
      this.log.warn({ messageId: message.properties.messageId, err: errorSummary(error) }, 'could not move the message to the suspect queue; handing it back');
      this.#nack(received, true);
    }
  }

  /** Publishes a copy with the failure headers and acks the original once the broker confirmed the copy. */
  async #forward(received: Received, failure: FailureHeaders, target: () => Promise<{ exchange: string; routingKey: string }>): Promise<void> {
    const { session, message } = received;
    try {
      const { exchange, routingKey } = await target();
      await session.publisher.publish(exchange, routingKey, message.content, copyProperties(message, failure));
      this.ack(received);
    } catch (error) {
      this.log.error(
        { messageId: message.properties.messageId, code: errorCode(error), err: errorSummary(error) },
        'could not forward the failed message; rejecting it to the dead-letter exchange',
      );
      this.#nack(received, false);
    }
  }

  /** The retry queue for a delay; one the topology did not foresee (config changed) is declared on first use. */
  async #retryQueue(session: ConsumerSession, delayMs: number): Promise<string> {
    const known = session.retryQueues.get(delayMs);
    if (known) return known;
    const name = retryQueueName(this.config.queue, delayMs);
    await session.publisher.channel.assertQueue(name, { durable: true, arguments: retryQueueArguments(this.config, delayMs) });
    session.retryQueues.set(delayMs, name);
    return name;
  }

  #nack({ session, message }: Received, requeue: boolean): void {
    if (session.lost) return;
    try {
      session.channel.nack(message, false, requeue);
    } catch (error) {
      this.log.warn({ messageId: message.properties.messageId, err: errorSummary(error) }, 'could not nack; the broker will redeliver');
    }
  }
}

/** `x-attempts` counts failed attempts, so this delivery is attempt `x-attempts` + 1. */
export function attemptOf(headers: MessagePropertyHeaders | undefined): number {
  const raw: unknown = headers?.['x-attempts'];
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' || Buffer.isBuffer(raw) ? Number(raw.toString()) : Number.NaN;
  return Number.isSafeInteger(value) && value >= 0 ? value + 1 : 1;
}

function copyProperties(message: ConsumeMessage, failure: FailureHeaders | Record<string, never>): Options.Publish {
  const { properties } = message;
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    if (!BROKER_HEADERS.test(name)) headers[name] = value;
  }
  Object.assign(headers, failure);
  return {
    persistent: true,
    mandatory: true,
    contentType: properties.contentType ?? 'application/json',
    contentEncoding: properties.contentEncoding,
    messageId: properties.messageId,
    correlationId: properties.correlationId,
    timestamp: properties.timestamp,
    type: properties.type,
    appId: properties.appId,
    headers,
  };
}
