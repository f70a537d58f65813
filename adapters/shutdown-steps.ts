import { errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';

/**
 * The one `close()` of a composition root: named steps, added as things open,
 * run in reverse order, each in its own try/catch so one failure never keeps
 * the rest open. `closeAll` is safe to call twice (the second call finds no steps).
 */
export class ShutdownSteps {
  readonly #steps: Array<{ name: string; close: () => Promise<unknown> }> = [];

  add(name: string, close: () => Promise<unknown>): void {
    this.#steps.push({ name, close });
  }

  /** Resolves to false when a step failed (and was logged). */
  async closeAll(log: Logger): Promise<boolean> {
    let clean = true;
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step.close();
      } catch (error) {
        clean = false;
        log.error({ step: step.name, err: errorSummary(error) }, 'shutdown step failed');
      }
    }
    return clean;
  }
}
