import { assertJobId } from './job.ts';
import type { JobRecord, JobsRepo } from './ports.ts';

export interface JobStatusDeps {
  readonly jobs: JobsRepo;
}

/**
 * The record of one job: its state, attempts, error and output. Undefined for
 * an id no job was published under; an id outside the job id rules is an
 * `InvalidInputError`.
 *
 * @example
 * await jobStatus({ id: '42' }, deps); // → { id: '42', state: 'written', attempts: 1, output: { key: '42.jpg', … }, … }
 */
export async function jobStatus(input: { id: unknown }, deps: JobStatusDeps): Promise<JobRecord | undefined> {
  return deps.jobs.findJob(assertJobId(input.id));
}
