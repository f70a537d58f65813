import { errorSummary } from './errors.ts';
import type { DependencyCheck } from './ports.ts';

export type Probe = 'live' | 'ready';

export interface HealthReport {
  readonly ok: boolean;
  /** Per dependency: `up`, or why it is down. Absent for the liveness probe. */
  readonly checks?: Record<string, string>;
}

export interface HealthzDeps {
  readonly dependencies: readonly DependencyCheck[];
  /** How long one check may take before it counts as down. */
  readonly timeoutMs?: number;
}

/**
 * Liveness (`live`): the process answers, `{ ok: true }`. Readiness (`ready`):
 * every dependency answers too; the report names the ones that are down.
 */
export async function healthz(input: { probe?: Probe }, deps: HealthzDeps): Promise<HealthReport> {
  if (input.probe === 'live') return { ok: true };
  const timeoutMs = deps.timeoutMs ?? 2000;
  const results = await Promise.all(
    deps.dependencies.map(async (dependency) => [dependency.name, await probe(dependency, timeoutMs)] as const),
  );
  const checks = Object.fromEntries(results);
  return { ok: results.every(([, status]) => status === 'up'), checks };
}

async function probe(dependency: DependencyCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([dependency.check(), timeout]);
    return 'up';
  } catch (error) {
    return `down: ${errorSummary(error, 200)}`;
  } finally {
    clearTimeout(timer);
  }
}
