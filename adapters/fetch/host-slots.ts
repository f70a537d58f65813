/**
 * At most `perHost` holders per host at once; the others wait in arrival
 * order. A waiter whose signal fires leaves the line at once and gets the
 * signal's reason. Hosts with no holder and no waiter are forgotten.
 *
 * @example
 * const slots = new HostSlots(4);
 * const release = await slots.acquire('images.example', signal);
 * try { await download(); } finally { release(); }
 */
export class HostSlots {
  private readonly hosts = new Map<string, { holders: number; waiting: Array<() => void> }>();

  constructor(private readonly perHost: number) {}

  /** Resolves with the function that frees the slot, once one is free for `host`. */
  async acquire(host: string, signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    let state = this.hosts.get(host);
    if (!state) {
      state = { holders: 0, waiting: [] };
      this.hosts.set(host, state);
    }
    if (state.holders < this.perHost) {
      state.holders += 1;
    } else {
      const line = state.waiting;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          line.splice(line.indexOf(wake), 1);
          reject(signal.reason);
        };
        // A freed slot passes straight to the next waiter: `holders` stays as it is.
        const wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        line.push(wake);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    return once(() => this.release(host));
  }

  private release(host: string): void {
    const state = this.hosts.get(host)!;
    const next = state.waiting.shift();
    if (next) return next();
    state.holders -= 1;
    if (state.holders === 0) this.hosts.delete(host);
  }
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
