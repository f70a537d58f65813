import type { JobPublisher, Logger } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import type { Config } from '#adapters/config.ts';
import { AmqpConsumer } from '#adapters/amqp/amqp-consumer.ts';
import { AmqpPublisher } from '#adapters/amqp/amqp-publisher.ts';
import { describeBroker } from '#adapters/amqp/connect.ts';
import type { SettledJob } from '#adapters/jobs/dispatcher.ts';
import { InProcessQueue } from './in-process-queue.ts';

/** The local host's queue and its worker, whichever queue it is. */
export interface HostWorker {
  readonly publisher: JobPublisher;
  /** `in-process` or `rabbitmq`. */
  readonly queue: string;
  start(deps: ProcessImageDeps): Promise<void>;
  stopIntake(): Promise<void>;
  /** Lets running jobs finish (up to the drain timeout) and stops consuming. */
  drain(): Promise<void>;
  /** Once the HTTP server has closed: nothing publishes any more. */
  closePublisher(): Promise<void>;
  /** Depths of the queue, when the host holds it itself. */
  depths(): Record<string, number> | undefined;
  describe(): Record<string, unknown>;
}

export interface HostWorkerOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly drainTimeoutMs: number;
  readonly onSettled: (event: SettledJob) => void;
}

/** RabbitMQ when `RABBIT_URL` is set, else an in-process queue with the broker's semantics. */
export function openHostWorker(options: HostWorkerOptions): HostWorker {
  return options.config.rabbitUrl ? rabbitWorker(options.config.rabbitUrl, options) : inProcessWorker(options);
}

function inProcessWorker({ config, log, drainTimeoutMs, onSettled }: HostWorkerOptions): HostWorker {
  const queue = new InProcessQueue({
    destination: { exchange: config.exchange, routingKey: config.routingKey },
    prefetch: config.prefetch,
    concurrency: config.concurrency,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    log,
    onSettled,
  });
  return {
    publisher: queue,
    queue: 'in-process',
    async start(deps) {
      queue.consume(deps);
    },
    async stopIntake() {
      queue.stopIntake();
    },
    async drain() {
      await queue.close({ graceMs: drainTimeoutMs });
      const { ready } = queue.stats();
      // In-memory messages end with the process; their rows go back to pending at the next start.
      if (ready > 0) log.warn({ unfinished: ready }, 'unfinished in-process jobs are handed back at the next start');
    },
    // Stopping intake already refuses new jobs (HTTP 503 while the server drains).
    async closePublisher() {},
    depths() {
      const { ready, unacked, delayed } = queue.stats();
      return { ready, unacked, delayed, deadLettered: queue.deadLetters.length };
    },
    describe: () => ({ queue: 'in-process' }),
  };
}

function rabbitWorker(url: string, { config, log, drainTimeoutMs, onSettled }: HostWorkerOptions): HostWorker {
  const publisher = new AmqpPublisher({ url, config, log, connectionName: 'imgpipe host publisher' });
  let consumer: AmqpConsumer | undefined;
  return {
    publisher,
    queue: 'rabbitmq',
    async start(deps) {
      consumer = new AmqpConsumer({ url, config, deps, log, drainTimeoutMs, onSettled, connectionName: 'imgpipe host worker' });
      await consumer.start();
    },
    async stopIntake() {
      await consumer?.stopIntake();
    },
    async drain() {
      await consumer?.close();
    },
    closePublisher: () => publisher.close(),
    depths: () => undefined,
    describe: () => ({ queue: 'rabbitmq', broker: describeBroker(url) }),
  };
}
