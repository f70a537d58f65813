import { TransientError } from '#functions/errors.ts';
import type { FailureReason, ImagesRepo, JobOutput, JobRecord, JobsRepo, JobsSummary, PendingImage } from '#functions/ports.ts';

interface Row {
  id: string;
  url: string;
  processed: boolean;
  enqueued: boolean;
  failure: FailureReason | undefined;
}

/** In-memory {@link ImagesRepo} and {@link JobsRepo} with the same selection, locking and record rules as the Postgres one. */
export class MemoryImagesRepo implements ImagesRepo, JobsRepo {
  readonly rows = new Map<string, Row>();
  readonly jobs = new Map<string, JobRecord>();
  /** Unreachable, as the Postgres repo reports it: `TransientError` `DATABASE_UNAVAILABLE`. */
  down = false;
  /** Any other failure to throw from every call (an unclassified bug, say). */
  failWith: Error | undefined;
  /** Time in the records; tests may set it. */
  now = () => new Date().toISOString();
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
      const picked = pending.map(({ id, url }) => ({ id, url }));
      await publish(picked);
      this.writeQueued(picked);
      for (const row of pending) row.enqueued = true;
    } finally {
      for (const row of pending) this.#locked.delete(row);
    }
    return pending.length;
  }

  async markProcessed(job: PendingImage, output?: JobOutput): Promise<void> {
    this.assertUp();
    const row = this.rows.get(job.id);
    if (row) Object.assign(row, { processed: true, failure: undefined });
    this.end(job, {
      state: output?.outcome ?? 'written',
      attempts: output?.attempt ?? 1,
      error: null,
      output: output ? { key: output.key, location: output.location } : null,
    });
  }

  async markFailed(job: PendingImage, reason: FailureReason, attempt = 1, final = true): Promise<void> {
    this.assertUp();
    if (!final) {
      const now = this.now();
      const earlier = this.jobs.get(job.id);
      this.jobs.set(job.id, {
        ...{ state: 'queued', output: null, createdAt: now, finishedAt: null },
        ...earlier,
        id: job.id,
        url: job.url,
        attempts: attempt,
        error: { ...reason },
        updatedAt: now,
      });
      return;
    }
    const row = this.rows.get(job.id);
    if (row) row.failure = reason;
    this.end(job, { state: 'failed', attempts: attempt, error: { ...reason } });
  }

  async recordQueued(jobs: readonly PendingImage[]): Promise<void> {
    this.assertUp();
    this.writeQueued(jobs);
  }

  async findJob(id: string): Promise<JobRecord | undefined> {
    this.assertUp();
    return this.jobs.get(id);
  }

  async clearFailed(ids: readonly string[]): Promise<void> {
    this.assertUp();
    for (const id of ids) {
      const record = this.jobs.get(id);
      if (record?.state === 'failed') {
        this.jobs.set(id, { ...record, state: 'queued', error: null, updatedAt: this.now(), finishedAt: null });
      }
      const row = this.rows.get(id);
      if (row) row.failure = undefined;
    }
  }

  async summary(options: { failures: number; outputs: number }): Promise<JobsSummary> {
    this.assertUp();
    const rows = [...this.rows.values()];
    const records = [...this.jobs.values()];
    const processed = rows.filter((row) => row.processed).length;
    const failed = rows.filter((row) => row.failure && !row.processed).length;
    const inState = (state: JobRecord['state']) => records.filter((record) => record.state === state);
    const newestFirst = (a: JobRecord, b: JobRecord) => String(b.finishedAt).localeCompare(String(a.finishedAt));
    const minuteAgo = new Date(Date.parse(this.now()) - 60_000).toISOString();
    return {
      rows: { total: rows.length, processed, failed, pending: rows.length - processed - failed },
      jobs: { queued: inState('queued').length, written: inState('written').length, skipped: inState('skipped').length, failed: inState('failed').length },
      endedLastMinute: [...inState('written'), ...inState('skipped')].filter((record) => String(record.finishedAt) > minuteAgo).length,
      latestFailures: inState('failed')
        .sort(newestFirst)
        .slice(0, options.failures)
        .map((record) => ({ id: record.id, code: record.error?.code ?? 'UNKNOWN', message: record.error?.message ?? '', at: record.finishedAt })),
      newestOutputs: inState('written')
        .filter((record) => record.output)
        .sort(newestFirst)
        .slice(0, options.outputs)
        .map((record) => ({ id: record.id, key: record.output!.key, at: record.finishedAt })),
    };
  }

  async ping(): Promise<void> {
    this.assertUp();
  }

  private writeQueued(jobs: readonly PendingImage[]): void {
    const now = this.now();
    for (const { id, url } of jobs) {
      const createdAt = this.jobs.get(id)?.createdAt ?? now;
      this.jobs.set(id, { id, url, state: 'queued', attempts: 0, error: null, output: null, createdAt, updatedAt: now, finishedAt: null });
    }
  }

  private end(job: PendingImage, change: Pick<JobRecord, 'state' | 'attempts' | 'error'> & Partial<JobRecord>): void {
    const now = this.now();
    const earlier = this.jobs.get(job.id);
    this.jobs.set(job.id, {
      output: null,
      ...earlier,
      id: job.id,
      url: job.url,
      createdAt: earlier?.createdAt ?? now,
      ...change,
      updatedAt: now,
      finishedAt: now,
    });
  }

  private assertUp(): void {
    if (this.failWith) throw this.failWith;
    if (this.down) throw new TransientError('DATABASE_UNAVAILABLE', 'database: connection refused');
  }
}
