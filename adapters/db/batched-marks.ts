interface Waiting {
  readonly id: number;
  readonly url: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for "mark this row processed": a call made while no write runs
 * starts one at once; calls made while a write runs wait and go together in
 * the next one. Each call resolves only once the statement holding its row
 * has committed (or rejects with that statement's error), so a job is still
 * acked only after its row is marked; under load, N jobs finishing together
 * cost one UPDATE and one commit instead of N.
 *
 * @example
 * const marks = new BatchedMarks((ids, urls) => db.query(IMAGES_SQL.markProcessedMany, [ids, urls]));
 * await marks.mark(42, url);
 */
export class BatchedMarks {
  #waiting: Waiting[] = [];
  #writing = false;

  constructor(
    private readonly write: (ids: number[], urls: string[]) => Promise<void>,
    private readonly maxBatch = 1000,
  ) {}

  mark(id: number, url: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ id, url, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.maxBatch);
      try {
        await this.write(
          batch.map((entry) => entry.id),
          batch.map((entry) => entry.url),
        );
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    this.#writing = false;
  }
}
