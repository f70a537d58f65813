import type { JobRecord, JobState } from '#functions/ports.ts';

/** A row of `jobs` as the database returns it. */
export interface JobRow {
  readonly id: string;
  readonly url: string;
  readonly state: string;
  readonly attempts: number;
  readonly error_code: string | null;
  readonly error_message: string | null;
  readonly output_key: string | null;
  readonly output_location: string | null;
  readonly created_at: Date | string | null;
  readonly updated_at: Date | string | null;
  readonly finished_at: Date | string | null;
}

/** The record `GET /jobs/:id` answers, from a row. */
export function toJobRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    url: row.url,
    state: row.state as JobState,
    attempts: Number(row.attempts),
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    output: row.output_key === null ? null : { key: row.output_key, location: row.output_location ?? '' },
    createdAt: isoOrNull(row.created_at),
    updatedAt: isoOrNull(row.updated_at),
    finishedAt: isoOrNull(row.finished_at),
  };
}

export function isoOrNull(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
