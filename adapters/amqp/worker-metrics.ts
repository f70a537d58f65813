import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { SettledJob } from '#adapters/jobs/dispatcher.ts';
import { OutputMetrics } from '#adapters/jobs/output-metrics.ts';
import { OUTCOMES } from '#adapters/jobs/run-job.ts';

/**
 * The worker's Prometheus metrics, in a registry of their own:
 * `imgpipe_jobs_total{outcome}`, `imgpipe_job_duration_seconds{outcome}` and
 * `imgpipe_outputs_total{format}`, plus the default process metrics. Feed it from the consumer's `onSettled`.
 *
 * @example
 * const metrics = new WorkerMetrics();
 * new AmqpConsumer({ …, onSettled: (event) => metrics.record(event) });
 * response.end(await metrics.registry.metrics());
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly #jobs: Counter<'outcome'>;
  readonly #duration: Histogram<'outcome'>;
  readonly #outputs = new OutputMetrics(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.#jobs = new Counter({
      name: 'imgpipe_jobs_total',
      help: 'Jobs settled by the worker, by outcome.',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.#duration = new Histogram({
      name: 'imgpipe_job_duration_seconds',
      help: 'Time from the start of a job to its settlement, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    // Every outcome shows from the first scrape, at zero, so rates and alerts have a series.
    for (const outcome of OUTCOMES) this.#jobs.inc({ outcome }, 0);
  }

  record({ settlement, durationMs }: SettledJob): void {
    const { outcome } = settlement;
    this.#jobs.inc({ outcome });
    this.#duration.observe({ outcome }, durationMs / 1000);
    if ('result' in settlement) this.#outputs.record(settlement.result);
  }
}
