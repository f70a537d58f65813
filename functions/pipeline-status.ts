import { errorSummary } from './errors.ts';
import type { Clock, JobsRepo, JobsSummary, QueueMonitor, QueueStats } from './ports.ts';

export interface PipelineStatusDeps {
  readonly jobs: JobsRepo;
  /** Absent where there is no broker to ask (the local host's in-process queue). */
  readonly queue?: QueueMonitor | undefined;
  readonly clock: Clock;
}

export interface PipelineStatus extends JobsSummary {
  /** Null when there is no broker to ask, or it did not answer (`queueError` says why). */
  readonly queue: QueueStats | null;
  readonly queueError?: string;
  /** Jobs ended per second, over the last minute. */
  readonly throughputPerSecond: number;
  readonly generatedAt: string;
}

const STATUS_FAILURES = 10;
const STATUS_OUTPUTS = 24;

/**
 * Is it going well right now: rows and jobs by state, the queue and the
 * dead letters by code, throughput over the last minute, the latest failures
 * and the newest outputs. A broker that does not answer leaves the rest of
 * the report intact; a database that does not answer fails it (TransientError).
 *
 * @example
 * await pipelineStatus(deps); // → { rows: { total: 300, processed: 120, … }, queue: { queued: 180, … }, throughputPerSecond: 2, … }
 */
export async function pipelineStatus(deps: PipelineStatusDeps): Promise<PipelineStatus> {
  const [summary, queue] = await Promise.all([
    deps.jobs.summary({ failures: STATUS_FAILURES, outputs: STATUS_OUTPUTS }),
    deps.queue?.stats().then(
      (stats) => ({ stats }),
      (error: unknown) => ({ error: errorSummary(error) }),
    ),
  ]);
  return {
    ...summary,
    queue: queue && 'stats' in queue ? queue.stats : null,
    ...(queue && 'error' in queue ? { queueError: queue.error } : {}),
    throughputPerSecond: Math.round((summary.endedLastMinute / 60) * 100) / 100,
    generatedAt: new Date(deps.clock.now()).toISOString(),
  };
}
