import { setTimeout as sleep } from 'node:timers/promises';
import type { PipelineStatus } from '#functions/pipeline-status.ts';
import type { JobRecord } from '#functions/ports.ts';
import type { ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';
import { makeProgress } from './progress.ts';

/** How often `--wait` asks the api. */
const POLL_MS = 500;

const endedRows = (status: PipelineStatus) => status.rows.processed + status.rows.failed;

export async function statusCommand(api: ApiClient): Promise<PipelineStatus> {
  return (await api.request<PipelineStatus>('GET', '/status')).body;
}

/**
 * Publishes up to `limit` pending rows; with `wait`, shows their progress
 * until as many more rows have ended (processed or failed) as were published.
 */
export async function enqueueCommand(api: ApiClient, limit: number | undefined, wait: boolean): Promise<{ enqueued: number; processed?: number; failed?: number }> {
  const before = wait ? await statusCommand(api) : undefined;
  const query = limit === undefined ? '' : `?limit=${limit}`;
  const { enqueued } = (await api.request<{ enqueued: number }>('POST', `/enqueue${query}`)).body;
  if (!before || enqueued === 0) return { enqueued };
  const progress = makeProgress('rows ended');
  progress.start(enqueued);
  try {
    for (;;) {
      const now = await statusCommand(api);
      const ended = endedRows(now) - endedRows(before);
      progress.update(Math.min(ended, enqueued));
      if (ended >= enqueued) {
        return { enqueued, processed: now.rows.processed - before.rows.processed, failed: now.rows.failed - before.rows.failed };
      }
      await sleep(POLL_MS);
    }
  } finally {
    progress.stop();
  }
}

export async function taskCommand(api: ApiClient, url: string, ops: readonly string[] | undefined, id: string | undefined): Promise<{ id: string }> {
  const body = { url, ...(ops && ops.length > 0 ? { ops } : {}), ...(id ? { id } : {}) };
  return (await api.request<{ id: string }>('POST', '/tasks', body)).body;
}

/** With `wait`, polls the job until it has ended (written, skipped or failed). */
export async function jobCommand(api: ApiClient, id: string, wait = false): Promise<JobRecord> {
  for (;;) {
    const job = await findJob(api, id);
    if (!wait || job.state !== 'queued') return job;
    await sleep(POLL_MS);
  }
}

async function findJob(api: ApiClient, id: string): Promise<JobRecord> {
  const answer = await api.request<JobRecord>('GET', `/jobs/${encodeURIComponent(id)}`, undefined, [404]);
  if (answer.status === 404) throw new CliError(`no job with id ${id}`);
  return answer.body;
}

export function formatJob(job: JobRecord): string {
  const lines = [`${job.id}  ${job.state}  (attempts ${job.attempts})`, `  url     ${job.url}`];
  if (job.output) lines.push(`  output  ${job.output.location}`);
  if (job.error) lines.push(`  error   ${job.error.code}: ${job.error.message}`);
  lines.push(`  created ${job.createdAt ?? '-'}  finished ${job.finishedAt ?? '-'}`);
  return lines.join('\n');
}

export function formatStatus(status: PipelineStatus): string {
  const { rows, jobs, queue } = status;
  const lines = [
    `rows     ${rows.total} total, ${rows.processed} processed, ${rows.failed} failed, ${rows.pending} pending`,
    `jobs     ${jobs.queued} queued, ${jobs.written} written, ${jobs.skipped} skipped, ${jobs.failed} failed`,
    `rate     ${status.throughputPerSecond}/s over the last minute (${status.endedLastMinute} jobs)`,
    queue
      ? `queue    ${queue.queued} waiting, ${queue.deadLettered} dead-lettered${Object.keys(queue.deadByCode).length > 0 ? ` (${Object.entries(queue.deadByCode).map(([code, count]) => `${code} ${count}`).join(', ')})` : ''}`
      : `queue    unknown: ${status.queueError ?? 'no broker'}`,
  ];
  for (const failure of status.latestFailures.slice(0, 5)) lines.push(`failed   ${failure.id}  ${failure.code}  ${failure.message}`);
  return lines.join('\n');
}
