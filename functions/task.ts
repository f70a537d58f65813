import { validateJob } from './job.ts';
import type { JobPublisher } from './ports.ts';

export interface TaskDeps {
  readonly publisher: JobPublisher;
}

/**
 * Validates one `{ url, ops? | outputs?, id? }` and publishes it. Without an
 * `id`, one is derived from the URL and ops (or outputs), so the same task
 * always maps to the same output.
 *
 * @example
 * await task({ url: 'https://example.com/a.jpg' }, deps); // → { id: 't-…' }
 */
export async function task(input: unknown, deps: TaskDeps): Promise<{ id: string }> {
  const job = validateJob(input);
  await deps.publisher.publish([job]);
  return { id: job.id };
}
