import { InvalidInputError } from './errors.ts';
import type { Job } from './job.ts';
import { DEFAULT_OPS } from './ops.ts';
import type { ImagesRepo, JobPublisher } from './ports.ts';

export const ENQUEUE_DEFAULT_LIMIT = 200;
export const ENQUEUE_MAX_LIMIT = 10_000;

export interface EnqueueInput {
  /** How many rows at most; default 200, 1..10000. */
  readonly limit?: number | undefined;
}

export interface EnqueueDeps {
  readonly images: ImagesRepo;
  readonly publisher: JobPublisher;
}

/**
 * Publishes one `thumbnail` job per image row that is neither processed, failed
 * nor already waiting, in id order. Calling it twice never publishes a row twice.
 *
 * @example
 * await enqueue({ limit: 300 }, deps); // → { enqueued: 300 }, then { enqueued: 0 }
 */
export async function enqueue(input: EnqueueInput, deps: EnqueueDeps): Promise<{ enqueued: number }> {
  const limit = input.limit ?? ENQUEUE_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > ENQUEUE_MAX_LIMIT) {
    throw new InvalidInputError('limit', `must be an integer from 1 to ${ENQUEUE_MAX_LIMIT}`);
  }
  const enqueued = await deps.images.enqueuePending(limit, async (rows) => {
    const jobs: Job[] = rows.map((row) => ({ id: row.id, url: row.url, ops: DEFAULT_OPS }));
    await deps.publisher.publish(jobs);
  });
  return { enqueued };
}
