import type { SettledJob } from './dispatcher.ts';
import { OutcomeCounts } from './outcome-counts.ts';
import type { Outcome } from './run-job.ts';

export interface RecentFailure {
  readonly jobId: string | undefined;
  readonly code: string;
  readonly reason: string;
  readonly attempts: number;
}

export interface JobStatsSnapshot {
  /** Jobs settled for good: every outcome but `released`. */
  readonly settled: number;
  readonly outcomes: Record<Outcome, number>;
  /** The newest dead letters, newest first. */
  readonly recentFailures: readonly RecentFailure[];
}

const KEPT_FAILURES = 20;

/** Counters of one worker's settled jobs, fed by its dispatcher's `onSettled`: what `GET /stats` reports. */
export class JobStats {
  readonly #counts = new OutcomeCounts();
  readonly #failures: RecentFailure[] = [];

  record({ settlement }: SettledJob): void {
    this.#counts.record(settlement.outcome);
    if (settlement.outcome !== 'dead-lettered') return;
    const { headers } = settlement;
    this.#failures.unshift({ jobId: settlement.jobId, code: headers['x-error-code'], reason: headers['x-error-message'], attempts: headers['x-attempts'] });
    this.#failures.length = Math.min(this.#failures.length, KEPT_FAILURES);
  }

  snapshot(): JobStatsSnapshot {
    return { settled: this.#counts.settled, outcomes: this.#counts.snapshot(), recentFailures: [...this.#failures] };
  }
}
