import { errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';

/**
 * The one `close()` of a composition root: named steps, added as things open,
 * run newest first, each in its own try/catch so one failure never keeps the
 * rest open. `close` runs them once; later calls get the same promise.
 */
export class ShutdownSteps {
  readonly #steps: Array<{ name: string; close: () => Promise<unknown> }> = [];
  #closing: Promise<boolean> | undefined;

  constructor(
    private readonly service: string,
    private readonly log: Logger,
  ) {}

  add(name: string, close: () => Promise<unknown>): void {
    this.#steps.push({ name, close });
  }

  /** True once `close` has been called. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Resolves to false when a step failed (and was logged). */
  close(reason: string): Promise<boolean> {
    this.#closing ??= this.#closeAll(reason);
    return this.#closing;
  }

  async #closeAll(reason: string): Promise<boolean> {
    this.log.info({ reason }, `${this.service} stopping`);
    let clean = true;
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.close();
      } catch (error) {
        clean = false;
        this.log.error({ step: step.name, err: errorSummary(error) }, 'shutdown step failed');
      }
    }
    this.log.info({ clean }, `${this.service} stopped`);
    return clean;
  }
}
