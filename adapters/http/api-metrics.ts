import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Job } from '#functions/job.ts';
import type { JobPublisher, QueueMonitor } from '#functions/ports.ts';

export interface ApiMetricsOptions {
  /** Where the queue depths come from (cached by the monitor); none, no depth series. */
  readonly queueMonitor?: QueueMonitor | undefined;
  /** The queue names, as the depth series' `queue` label. */
  readonly queues?: { readonly queue: string; readonly dlq: string };
}

/**
 * The api's Prometheus metrics, in a registry of their own, served at `GET /metrics`:
 *
 * | metric | labels |
 * | --- | --- |
 * | `imgpipe_http_requests_total` | `method`, `route` (the pattern, `unmatched` for a 404), `status` |
 * | `imgpipe_http_request_duration_seconds` | `method`, `route` |
 * | `imgpipe_jobs_published_total` | — |
 * | `imgpipe_enqueue_batch_size` | — (rows per `POST /enqueue`) |
 * | `imgpipe_queue_messages` | `queue` (the main queue and the dead-letter queue) |
 *
 * plus the default process metrics. Label values are bounded: a route
 * pattern, never a URL or an id. Depths come from the cached monitor, so a
 * scrape is not a broker call; a broker that does not answer drops the depth
 * series rather than repeating stale numbers.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route'>;
  readonly #published: Counter;
  readonly #batchSize: Histogram;

  constructor(options: ApiMetricsOptions = {}) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'imgpipe_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'imgpipe_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#published = new Counter({ name: 'imgpipe_jobs_published_total', help: 'Jobs the broker confirmed.', registers });
    this.#batchSize = new Histogram({
      name: 'imgpipe_enqueue_batch_size',
      help: 'Rows published per POST /enqueue.',
      buckets: [0, 1, 10, 50, 100, 200, 500, 1000, 5000, 10000],
      registers,
    });
    const { queueMonitor, queues } = options;
    if (queueMonitor && queues) {
      new Gauge({
        name: 'imgpipe_queue_messages',
        help: 'Messages ready in a queue (the main queue and the dead-letter queue), at most a few seconds old.',
        labelNames: ['queue'],
        registers,
        async collect() {
          this.reset();
          try {
            const stats = await queueMonitor.stats();
            this.set({ queue: queues.queue }, stats.queued);
            this.set({ queue: queues.dlq }, stats.deadLettered);
          } catch {
            // No answer, no series: the scrape still shows everything else.
          }
        },
      });
    }
  }

  recordRequest(method: string, route: string | undefined, status: number, seconds: number): void {
    const pattern = route ?? 'unmatched';
    this.#requests.inc({ method, route: pattern, status: String(status) });
    this.#duration.observe({ method, route: pattern }, seconds);
  }

  recordEnqueue(rows: number): void {
    this.#batchSize.observe(rows);
  }

  /** `publisher`, counting every job it got confirmed. */
  countPublished(publisher: JobPublisher): JobPublisher {
    return {
      publish: async (jobs: readonly Job[]) => {
        await publisher.publish(jobs);
        this.#published.inc(jobs.length);
      },
      ping: () => publisher.ping(),
    };
  }
}
