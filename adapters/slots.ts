/**
 * At most `size` holders at once; the others wait in arrival order. A waiter
 * whose signal fires leaves the line at once and gets the signal's reason.
 *
 * @example
 * const slots = new Slots(4);
 * const release = await slots.acquire(signal);
 * try { await work(); } finally { release(); }
 */
export class Slots {
  #holders = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('size must be a positive integer');
  }

  /** True when nobody holds a slot or waits for one. */
  get idle(): boolean {
    return this.#holders === 0 && this.#waiting.length === 0;
  }

  /** Resolves with the function that frees the slot (safe to call twice), once one is free. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#holders < this.size) {
      this.#holders += 1;
    } else {
      const line = this.#waiting;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          line.splice(line.indexOf(wake), 1);
          reject(signal.reason);
        };
        // A freed slot passes straight to the next waiter: `#holders` stays as it is.
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        line.push(wake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release();
    };
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) return next();
    this.#holders -= 1;
  }
}
