import type { ConfirmChannel, Message, Options } from 'amqplib';
import { TransientError } from '#functions/errors.ts';

/** One message of {@link ConfirmedChannel.publishAll}. */
export interface OutgoingMessage {
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/** Told each message's end: `error` undefined once confirmed, else why it was refused. */
export type MessageSettled = (index: number, error: TransientError | undefined) => void;

/**
 * A confirm channel whose publishes resolve once the broker has confirmed the
 * messages, and reject with a `TransientError` when one was refused
 * (`PUBLISH_REFUSED`: a nack, or the channel closed first) or could not be
 * routed (`UNROUTABLE`: published `mandatory` and returned).
 *
 * Respects back-pressure: when the channel's buffer is full, the next publish
 * waits for 'drain' before writing. Many publishes may be in flight at once,
 * from one batch or several.
 *
 * A returned message is matched to its confirm by exchange, routing key and
 * `messageId`: the broker sends `basic.return` before the `basic.ack` of the
 * same message, on the same channel.
 */
export class ConfirmedChannel {
  readonly #channel: ConfirmChannel;
  readonly #returned = new Map<string, number>();
  #closed = false;
  #drained: Promise<void> | undefined;

  constructor(channel: ConfirmChannel) {
    this.#channel = channel;
    channel.on('return', (message: Message) => {
      const key = returnKey(message.fields.exchange, message.fields.routingKey, message.properties.messageId as string | undefined);
      this.#returned.set(key, (this.#returned.get(key) ?? 0) + 1);
    });
    channel.on('close', () => {
      this.#closed = true;
    });
    // Without a listener an 'error' event would crash the process; 'close' follows it.
    channel.on('error', () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  get channel(): ConfirmChannel {
    return this.#channel;
  }

  /** One message; resolves once it is confirmed. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    return this.publishAll(exchange, routingKey, 1, () => ({ content, options }));
  }

  /**
   * Writes `count` messages, each made by `messageAt(index)` just before it is
   * written, without waiting for any confirm, then resolves once the broker has
   * confirmed every one. One promise for the batch, not one per message: a
   * batch of thousands costs one callback each. When any is refused it rejects,
   * after every message has settled, with the refusal of the first in order;
   * `settled` hears of each message as it settles, in the order the broker answers.
   */
  async publishAll(
    exchange: string,
    routingKey: string,
    count: number,
    messageAt: (index: number) => OutgoingMessage,
    settled?: MessageSettled,
  ): Promise<void> {
    if (count === 0) return;
    const batch = new ConfirmBatch(count, settled);
    for (let index = 0; index < count; index += 1) {
      while (this.#drained) await this.#drained;
      if (this.#closed) {
        batch.refuseFrom(index, new TransientError('PUBLISH_REFUSED', 'the broker channel is closed'));
        break;
      }
      const { content, options } = messageAt(index);
      const messageId = options.messageId;
      let hasRoom: boolean;
      try {
        hasRoom = this.#channel.publish(exchange, routingKey, content, options, (error: unknown) => {
          batch.settle(index, this.#outcome(error, exchange, routingKey, messageId));
        });
      } catch (error) {
        batch.refuseFrom(index, new TransientError('PUBLISH_REFUSED', `could not publish to ${describe(exchange, routingKey)}`, { cause: error }));
        break;
      }
      if (!hasRoom) this.#drained ??= this.#waitForDrain();
    }
    return batch.done;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#channel.close();
  }

  #outcome(error: unknown, exchange: string, routingKey: string, messageId: string | undefined): TransientError | undefined {
    if (error) {
      return new TransientError('PUBLISH_REFUSED', `the broker refused the message to ${describe(exchange, routingKey)}`, { cause: error });
    }
    if (this.#returned.size > 0 && this.#takeReturned(returnKey(exchange, routingKey, messageId))) {
      return new TransientError('UNROUTABLE', `no queue is bound for ${describe(exchange, routingKey)}`);
    }
    return undefined;
  }

  #takeReturned(key: string): boolean {
    const count = this.#returned.get(key);
    if (!count) return false;
    if (count === 1) this.#returned.delete(key);
    else this.#returned.set(key, count - 1);
    return true;
  }

  #waitForDrain(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.#channel.off('drain', done);
        this.#channel.off('close', done);
        this.#drained = undefined;
        resolve();
      };
      this.#channel.on('drain', done);
      this.#channel.on('close', done);
    });
  }
}

/** Counts a batch's messages down to the one promise that answers for all of them. */
class ConfirmBatch {
  readonly done: Promise<void>;
  #pending: number;
  #failure: { index: number; error: TransientError } | undefined;
  #resolve!: () => void;
  #reject!: (error: TransientError) => void;

  constructor(
    private readonly count: number,
    private readonly settled: MessageSettled | undefined,
  ) {
    this.#pending = count;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  settle(index: number, error: TransientError | undefined): void {
    this.settled?.(index, error);
    if (error && (!this.#failure || index < this.#failure.index)) this.#failure = { index, error };
    this.#pending -= 1;
    if (this.#pending > 0) return;
    if (this.#failure) this.#reject(this.#failure.error);
    else this.#resolve();
  }

  /** Messages `from` onwards were never written. */
  refuseFrom(from: number, error: TransientError): void {
    for (let index = from; index < this.count; index += 1) this.settle(index, error);
  }
}

function returnKey(exchange: string, routingKey: string, messageId: string | undefined): string {
  return `${exchange}\u0000${routingKey}\u0000${messageId ?? ''}`;
}

function describe(exchange: string, routingKey: string): string {
  return exchange === '' ? `queue "${routingKey}"` : `exchange "${exchange}" with routing key "${routingKey}"`;
}
