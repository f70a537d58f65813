/*
 * The JSON schemas of the HTTP routes. Every bound comes from the constants the
 * handlers validate with, so the schema and the handler can never disagree;
 * the handler validates again, as it would for any other caller. Unknown
 * keys are refused, in bodies and query strings alike: `?limt=5` must not
 * silently enqueue the default 200.
 */
import { ENQUEUE_DEFAULT_LIMIT, ENQUEUE_MAX_LIMIT } from '#functions/enqueue.ts';
import { jobSchema } from '#functions/job-schema.ts';
import { SAMPLE_MAX_SIDE, SAMPLE_SEED_PATTERN } from '#adapters/samples/sample-image.ts';

export const enqueueSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: { type: 'integer', minimum: 1, maximum: ENQUEUE_MAX_LIMIT, default: ENQUEUE_DEFAULT_LIMIT },
    },
  },
} as const;

export interface EnqueueQuery {
  readonly limit: number;
}

/** A `POST /tasks` body is a job: the one job schema every entry validates with. */
export const taskSchema = { body: jobSchema } as const;

export const healthzSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      probe: { type: 'string', enum: ['live', 'ready'], default: 'ready' },
    },
  },
} as const;

export interface HealthzQuery {
  readonly probe: 'live' | 'ready';
}

export const sampleSchema = {
  params: {
    type: 'object',
    required: ['seed', 'width', 'height'],
    properties: {
      seed: { type: 'string', pattern: SAMPLE_SEED_PATTERN.source },
      width: { type: 'integer', minimum: 1, maximum: SAMPLE_MAX_SIDE },
      height: { type: 'integer', minimum: 1, maximum: SAMPLE_MAX_SIDE },
    },
  },
} as const;

export interface SampleParams {
  readonly seed: string;
  readonly width: number;
  readonly height: number;
}
