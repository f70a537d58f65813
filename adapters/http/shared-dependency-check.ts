import type { DependencyCheck } from '#functions/ports.ts';

export interface SharedCheckOptions {
  /** How long a success answers later calls without asking again. */
  readonly freshMs: number;
  readonly now?: () => number;
}

/**
 * A {@link DependencyCheck} that many readiness requests share: calls made
 * while a check runs wait for that one check, and a success is reused for
 * `freshMs`, so `GET /healthz` under load costs the database and the broker
 * one round trip per `freshMs`, not one per request. A failure is never
 * reused: the next call asks again, so recovery shows at once.
 *
 * @example
 * const database = sharedCheck({ name: 'database', check: () => images.ping() }, { freshMs: 1000 });
 */
export function sharedCheck(dependency: DependencyCheck, options: SharedCheckOptions): DependencyCheck {
  const now = options.now ?? Date.now;
  let running: Promise<void> | undefined;
  let upUntil = Number.NEGATIVE_INFINITY;
  return {
    name: dependency.name,
    check() {
      if (now() < upUntil) return Promise.resolve();
      running ??= dependency.check().then(
        () => {
          upUntil = now() + options.freshMs;
          running = undefined;
        },
        (error: unknown) => {
          running = undefined;
          throw error;
        },
      );
      return running;
    },
  };
}
