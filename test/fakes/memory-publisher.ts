import { TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { JobPublisher } from '#functions/ports.ts';

/** In-memory {@link JobPublisher}: records what the broker would have confirmed. */
export class MemoryPublisher implements JobPublisher {
  readonly published: Job[] = [];
  refuse = false;

  async publish(jobs: readonly Job[]): Promise<void> {
    if (this.refuse) throw new TransientError('PUBLISH_REFUSED', 'the broker refused the messages');
    this.published.push(...jobs);
  }

  async ping(): Promise<void> {
    if (this.refuse) throw new Error('broker is down');
  }
}
