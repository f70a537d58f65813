import amqp, { type ChannelModel } from 'amqplib';
import { errorSummary, TransientError } from '#functions/errors.ts';

export interface ConnectOptions {
  /** Shown in the broker's management UI beside the connection. */
  readonly connectionName: string;
  /** How long the TCP connect and AMQP handshake may take. */
  readonly timeoutMs?: number;
}

/**
 * Opens one AMQP connection. A failure becomes a `TransientError`
 * (`BROKER_UNAVAILABLE`) whose message names the broker's host, port and
 * vhost, never the credentials.
 *
 * @example
 * const connection = await connectAmqp(config.rabbitUrl, { connectionName: 'imgpipe worker' });
 */
export async function connectAmqp(url: string, options: ConnectOptions): Promise<ChannelModel> {
  try {
    const connection = await amqp.connect(url, {
      timeout: options.timeoutMs ?? 10_000,
      clientProperties: { connection_name: options.connectionName },
    });
    // Without a listener an 'error' event would crash the process; owners watch 'close'.
    connection.on('error', () => {});
    return connection;
  } catch (error) {
    throw new TransientError('BROKER_UNAVAILABLE', `cannot connect to RabbitMQ at ${describeBroker(url)}: ${errorSummary(error)}`, {
      cause: error,
    });
  }
}

/** `host:port/vhost` of an AMQP URL, for messages and logs: never the user or password. */
export function describeBroker(url: string): string {
  try {
    const parsed = new URL(url);
    const port = parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672');
    const vhost = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || '/';
    return `${parsed.hostname}:${port} (vhost ${vhost})`;
  } catch {
    return 'an unparsable RABBIT_URL';
  }
}
