import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { PendingImage, QueueMonitor } from '#functions/ports.ts';
import type { ApiMetrics } from '#adapters/http/api-metrics.ts';
import { buildHttpApp, type HttpAppOptions } from '#adapters/http/build-http-app.ts';
import { MemoryDeadLetters } from '#test/fakes/memory-dead-letters.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';

export interface HttpAppHarness {
  readonly app: FastifyInstance;
  readonly images: MemoryImagesRepo;
  readonly publisher: MemoryPublisher;
  readonly deadLetters: MemoryDeadLetters;
  readonly store: MemoryStore;
}

/** `count` picsum-style rows with ids 1..count, like the seed of `db/init.sql`. */
export function seedRows(count: number): PendingImage[] {
  return Array.from({ length: count }, (_, index) => ({
    id: String(index + 1),
    url: `https://picsum.photos/seed/${index + 1}/1024/768`,
  }));
}

/** The HTTP app over in-memory fakes, with `database` and `broker` as its readiness dependencies. */
export function httpAppWithFakes(
  options: {
    rows?: number;
    publisher?: MemoryPublisher;
    app?: HttpAppOptions;
    logger?: FastifyBaseLogger;
    queueMonitor?: QueueMonitor;
    metrics?: ApiMetrics;
  } = {},
): HttpAppHarness {
  const images = new MemoryImagesRepo(seedRows(options.rows ?? 0));
  const publisher = options.publisher ?? new MemoryPublisher();
  const deadLetters = new MemoryDeadLetters([], images);
  const store = new MemoryStore();
  const app = buildHttpApp(
    {
      enqueue: { images, publisher },
      task: { publisher, jobs: images },
      jobs: images,
      deadLetters,
      thumbnails: store,
      queueMonitor: options.queueMonitor,
      metrics: options.metrics,
      healthz: {
        dependencies: [
          { name: 'database', check: () => images.ping() },
          { name: 'broker', check: () => publisher.ping() },
        ],
      },
      logger: options.logger,
    },
    options.app,
  );
  return { app, images, publisher, deadLetters, store };
}

/** A `POST /tasks` body; override what the test is about. */
export function taskBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { url: 'https://images.test/photos/cat.jpg', ops: ['thumbnail'], ...overrides };
}
