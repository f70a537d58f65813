import type { JobRecord } from '#functions/ports.ts';
import type { ApiClient } from './api-client.ts';
import { CliError } from './cli-error.ts';

export async function enqueueCommand(api: ApiClient, limit: number | undefined): Promise<{ enqueued: number }> {
  const query = limit === undefined ? '' : `?limit=${limit}`;
  return (await api.request<{ enqueued: number }>('POST', `/enqueue${query}`)).body;
}

export async function taskCommand(api: ApiClient, url: string, ops: readonly string[] | undefined, id: string | undefined): Promise<{ id: string }> {
  const body = { url, ...(ops && ops.length > 0 ? { ops } : {}), ...(id ? { id } : {}) };
  return (await api.request<{ id: string }>('POST', '/tasks', body)).body;
}

export async function jobCommand(api: ApiClient, id: string): Promise<JobRecord> {
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
