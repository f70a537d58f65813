interface Waiting<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit: a write asked for while none runs starts at once; writes
 * asked for while one runs wait and go together in the next one. Each call
 * resolves only once the statement holding its item has committed (or
 * rejects with that statement's error), so a job is still acked only after
 * its row is marked; under load, N jobs finishing together cost one
 * statement and one commit instead of N.
 *
 * `gatherMs` holds each batch open that long before it is written. Leave it
 * at 0 for a database in another process: writes join while the previous
 * statement runs there. An embedded database runs its statement on this
 * thread, so nothing can join while it runs: a few milliseconds of waiting
 * let the jobs that finish meanwhile share the next statement.
 *
 * @example
 * const marks = new BatchedWrites((items) => db.query(IMAGES_SQL.markProcessedMany, columnsOf(items)));
 * await marks.write({ id: '42', … });
 */
export class BatchedWrites<T> {
  #waiting: Waiting<T>[] = [];
  #writing = false;

  constructor(
    private readonly writeAll: (items: T[]) => Promise<void>,
    private readonly options: { readonly maxBatch?: number; readonly gatherMs?: number } = {},
  ) {}

  write(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    const { maxBatch = 1000, gatherMs = 0 } = this.options;
    while (this.#waiting.length > 0) {
      if (gatherMs > 0) await new Promise((resolve) => setTimeout(resolve, gatherMs));
      const batch = this.#waiting.splice(0, maxBatch);
      try {
        await this.writeAll(batch.map((entry) => entry.item));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.#writing = false;
  }
}
