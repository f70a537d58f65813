import { assertJobId } from './job.ts';
import { readManifest, type Manifest } from './manifest.ts';
import { manifestKey } from './output-keys.ts';
import type { ImageStore, JobRecord, JobsRepo } from './ports.ts';

export interface JobStatusDeps {
  readonly jobs: JobsRepo;
  /** Where a job with named outputs keeps its manifest; without it no manifest is read. */
  readonly store?: Pick<ImageStore, 'read'>;
}

/** A job's record, with the manifest of its outputs once a job with named outputs has one. */
export type JobStatus = JobRecord & { readonly manifest?: Manifest };

/**
 * The record of one job: its state, attempts, error and output, and for a job
 * with named outputs its manifest (names, sizes, bytes, formats) once written.
 * Undefined for an id no job was published under; an id outside the job id
 * rules is an `InvalidInputError`.
 *
 * @example
 * await jobStatus({ id: '42' }, deps); // → { id: '42', state: 'written', attempts: 1, output: { key: '42.jpg', … }, … }
 */
export async function jobStatus(input: { id: unknown }, deps: JobStatusDeps): Promise<JobStatus | undefined> {
  const id = assertJobId(input.id);
  const record = await deps.jobs.findJob(id);
  if (!record || !deps.store || record.output?.key !== manifestKey(id)) return record;
  const manifest = await readManifest(deps.store, id);
  return manifest ? { ...record, manifest } : record;
}
