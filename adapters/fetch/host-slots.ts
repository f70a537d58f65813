import { Slots } from '#adapters/slots.ts';

/**
 * At most `perHost` holders per host at once ({@link Slots} per host); the
 * others wait in arrival order and leave the line when their signal fires.
 * Hosts with no holder and no waiter are forgotten.
 *
 * @example
 * const slots = new HostSlots(4);
 * const release = await slots.acquire('images.example', signal);
 * try { await download(); } finally { release(); }
 */
export class HostSlots {
  private readonly hosts = new Map<string, Slots>();

  constructor(private readonly perHost: number) {}

  /** Resolves with the function that frees the slot, once one is free for `host`. */
  async acquire(host: string, signal: AbortSignal): Promise<() => void> {
    let slots = this.hosts.get(host);
    if (!slots) {
      slots = new Slots(this.perHost);
      this.hosts.set(host, slots);
    }
    const held = slots;
    try {
      const release = await held.acquire(signal);
      return () => {
        release();
        this.forgetIfIdle(host, held);
      };
    } catch (error) {
      this.forgetIfIdle(host, held);
      throw error;
    }
  }

  private forgetIfIdle(host: string, slots: Slots): void {
    if (slots.idle && this.hosts.get(host) === slots) this.hosts.delete(host);
  }
}
