/*
 * The JSON schemas of the HTTP routes. Every bound comes from the constants the
 * handlers validate with, so the schema and the handler can never disagree;
 * the handler validates again, as it would for any other caller. Unknown
 * keys are refused, in bodies and query strings alike: `?limt=5` must not
 * silently enqueue the default 200.
 */
import { ENQUEUE_DEFAULT_LIMIT, ENQUEUE_MAX_LIMIT } from '#functions/enqueue.ts';
import { JOB_ID_PATTERN, jobSchema } from '#functions/job-schema.ts';
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

export const jobRecordSchema = {
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', pattern: JOB_ID_PATTERN.source } },
  },
} as const;

export interface JobParams {
  readonly id: string;
}

export const dlqListSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { newest: { type: 'integer', minimum: 0, maximum: 1000, default: 10 } },
  },
} as const;

export interface DlqListQuery {
  readonly newest: number;
}

export const dlqReplaySchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      code: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
      id: { type: 'string', pattern: JOB_ID_PATTERN.source },
      limit: { type: 'integer', minimum: 1, maximum: 1_000_000 },
      dryRun: { type: 'boolean' },
    },
  },
} as const;

export interface DlqReplayBody {
  readonly code?: string;
  readonly id?: string;
  readonly limit?: number;
  readonly dryRun?: boolean;
}

export const thumbnailSchema = {
  params: {
    type: 'object',
    required: ['file'],
    properties: { file: { type: 'string', pattern: `^${JOB_ID_PATTERN.source.slice(1, -1)}\\.jpg$` } },
  },
} as const;

export interface ThumbnailParams {
  /** `<id>.jpg` */
  readonly file: string;
}

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
