import { TransientError } from '#functions/errors.ts';
import type { FailureReason, ImagesRepo, PendingImage } from '#functions/ports.ts';

interface Row {
  id: string;
  url: string;
  processed: boolean;
  enqueued: boolean;
  failure: FailureReason | undefined;
}

/** In-memory {@link ImagesRepo} with the same selection and locking rules as the Postgres one. */
export class MemoryImagesRepo implements ImagesRepo {
  readonly rows = new Map<string, Row>();
  /** Unreachable, as the Postgres repo reports it: `TransientError` `DATABASE_UNAVAILABLE`. */
  down = false;
  /** Any other failure to throw from every call (an unclassified bug, say). */
  failWith: Error | undefined;
  /** Rows held by an `enqueuePending` whose publish is running, as `FOR UPDATE SKIP LOCKED` holds them. */
  readonly #locked = new Set<Row>();

  constructor(seed: readonly PendingImage[] = []) {
    for (const image of seed) {
      this.rows.set(image.id, { ...image, processed: false, enqueued: false, failure: undefined });
    }
  }

  async enqueuePending(limit: number, publish: (rows: readonly PendingImage[]) => Promise<void>): Promise<number> {
    this.assertUp();
    const pending = [...this.rows.values()]
      .filter((row) => !row.processed && !row.enqueued && !row.failure && !this.#locked.has(row))
      .sort((a, b) => Number(a.id) - Number(b.id))
      .slice(0, limit);
    for (const row of pending) this.#locked.add(row);
    try {
      await publish(pending.map(({ id, url }) => ({ id, url })));
      for (const row of pending) row.enqueued = true;
    } finally {
      for (const row of pending) this.#locked.delete(row);
    }
    return pending.length;
  }

  async markProcessed(job: PendingImage): Promise<void> {
    this.assertUp();
    const row = this.match(job);
    if (row) Object.assign(row, { processed: true, failure: undefined });
  }

  async markFailed(job: PendingImage, reason: FailureReason): Promise<void> {
    this.assertUp();
    const row = this.match(job);
    if (row) row.failure = reason;
  }

  async ping(): Promise<void> {
    this.assertUp();
  }

  private match(job: PendingImage): Row | undefined {
    const row = this.rows.get(job.id);
    return row?.url === job.url ? row : undefined;
  }

  private assertUp(): void {
    if (this.failWith) throw this.failWith;
    if (this.down) throw new TransientError('DATABASE_UNAVAILABLE', 'database: connection refused');
  }
}
