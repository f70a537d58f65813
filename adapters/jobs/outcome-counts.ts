import { OUTCOMES, type Outcome } from './run-job.ts';

/** How many jobs ended in each {@link Outcome}, every outcome present from zero. */
export class OutcomeCounts {
  readonly #counts = new Map<Outcome, number>(OUTCOMES.map((outcome) => [outcome, 0]));

  record(outcome: Outcome): void {
    this.#counts.set(outcome, this.#counts.get(outcome)! + 1);
  }

  /** The settled total: every outcome but `released`, whose message runs again. */
  get settled(): number {
    let total = 0;
    for (const [outcome, count] of this.#counts) if (outcome !== 'released') total += count;
    return total;
  }

  snapshot(): Record<Outcome, number> {
    return Object.fromEntries(this.#counts) as Record<Outcome, number>;
  }
}
