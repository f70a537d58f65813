import { errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';

/**
 * The phases of every shutdown, in the order they run: stop taking work in,
 * let work already taken in finish, close what the work used, and export the
 * spans that tell about it last.
 */
export const SHUTDOWN_PHASES = ['stop intake', 'drain', 'close resources', 'flush telemetry'] as const;

export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

interface Step {
  readonly phase: ShutdownPhase;
  readonly name: string;
  readonly run: () => Promise<unknown>;
}

/**
 * The one `close()` of a composition root: named steps, each in a phase, added
 * as things open. `close` runs the phases in {@link SHUTDOWN_PHASES} order and
 * the steps of a phase in the order they were added, each in its own try/catch
 * so one failure never keeps the rest open. It runs once; later calls get the
 * same promise.
 *
 * @example
 * shutdown.add('flush telemetry', 'telemetry', () => telemetry.shutdown());
 * shutdown.add('close resources', 'database', () => images.close());
 * shutdown.add('stop intake', 'consumer', () => consumer.close());
 * await shutdown.close('SIGTERM'); // consumer, database, telemetry
 */
export class ShutdownPlan {
  readonly #steps: Step[] = [];
  #closing: Promise<boolean> | undefined;

  constructor(
    private readonly service: string,
    private readonly log: Logger,
  ) {}

  add(phase: ShutdownPhase, name: string, run: () => Promise<unknown>): void {
    this.#steps.push({ phase, name, run });
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
    for (const phase of SHUTDOWN_PHASES) {
      for (const step of this.#steps.filter((candidate) => candidate.phase === phase)) {
        try {
          await step.run();
        } catch (error) {
          clean = false;
          this.log.error({ phase, step: step.name, err: errorSummary(error) }, 'shutdown step failed');
        }
      }
    }
    this.#steps.length = 0;
    this.log.info({ clean }, `${this.service} stopped`);
    return clean;
  }
}
