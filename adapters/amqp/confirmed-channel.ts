import type { ConfirmChannel, Message, Options } from 'amqplib';
import { TransientError } from '#functions/errors.ts';

/**
 * A confirm channel whose `publish` resolves once the broker has confirmed the
 * message, and rejects with a `TransientError` when it was refused
 * (`PUBLISH_REFUSED`: a nack, or the channel closed first) or could not be
 * routed (`UNROUTABLE`: published `mandatory` and returned).
 *
 * Respects back-pressure: when the channel's buffer is full, the next publish
 * waits for 'drain' before writing. Many publishes may be in flight at once;
 * call them without awaiting each, then await them all.
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

  async publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    while (this.#drained) await this.#drained;
    if (this.#closed) throw new TransientError('PUBLISH_REFUSED', 'the broker channel is closed');
    const key = returnKey(exchange, routingKey, options.messageId);
    const confirmed = new Promise<void>((resolve, reject) => {
      const onConfirm = (error: unknown) => {
        if (error) {
          reject(new TransientError('PUBLISH_REFUSED', `the broker refused the message to ${describe(exchange, routingKey)}`, { cause: error }));
          return;
        }
        if (this.#takeReturned(key)) {
          reject(new TransientError('UNROUTABLE', `no queue is bound for ${describe(exchange, routingKey)}`));
          return;
        }
        resolve();
      };
      let hasRoom: boolean;
      try {
        hasRoom = this.#channel.publish(exchange, routingKey, content, options, onConfirm);
      } catch (error) {
        reject(new TransientError('PUBLISH_REFUSED', `could not publish to ${describe(exchange, routingKey)}`, { cause: error }));
        return;
      }
      if (!hasRoom) this.#drained ??= this.#waitForDrain();
    });
    await confirmed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#channel.close();
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

function returnKey(exchange: string, routingKey: string, messageId: string | undefined): string {
  return `${exchange}\u0000${routingKey}\u0000${messageId ?? ''}`;
}

function describe(exchange: string, routingKey: string): string {
  return exchange === '' ? `queue "${routingKey}"` : `exchange "${exchange}" with routing key "${routingKey}"`;
}
