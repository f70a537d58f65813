/*
 * The one JSON schema of a job, as a `POST /tasks` body, a message body or a
 * CLI argument carries it. `validateJob` and `parseJob` (job.ts) check it at
 * every entry; the HTTP route also declares it, so it is documented with the
 * route. Every bound comes from a constant here or in `output-spec.ts`. What
 * a JSON schema cannot say (a URL that parses and carries no credentials,
 * names unique within the job) job.ts checks after it.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { KNOWN_OPS } from './ops.ts';
import {
  BACKGROUND_PATTERN,
  MAX_OUTPUT_SIDE,
  MAX_OUTPUTS,
  OUTPUT_FITS,
  OUTPUT_FORMATS,
  OUTPUT_POSITIONS,
  QUALITY,
  SMART_CROPS,
} from './output-spec.ts';

export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const MAX_URL_LENGTH = 2048;

// Any case, as URL parsing lowercases the scheme; parseJob checks the rest.
const HTTP_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://';

/** Messages for patterns whose regular expression says little to a caller, by pattern source. */
export const PATTERN_MESSAGES: ReadonlyMap<string, string> = new Map([
  [HTTP_URL_PATTERN, 'must use http or https'],
  [JOB_ID_PATTERN.source, 'must be 1 to 128 characters of A-Z, a-z, 0-9, "_" or "-"'],
  [BACKGROUND_PATTERN.source, 'must be a colour as #rgb, #rrggbb or #rrggbbaa'],
]);

/** Messages for fields that are refused where they stand (by a `false` or `const` subschema), by field name. */
export const CONDITIONAL_MESSAGES: ReadonlyMap<string, string> = new Map([
  ['ops', 'cannot be given together with outputs'],
  ['position', 'is allowed only with fit "cover"'],
  ['background', 'is allowed only with fit "contain"'],
  ['animated', 'can be true only with format "webp"'],
]);

/** `if format is F then quality within F's range`, for every format. */
const qualityByFormat = OUTPUT_FORMATS.map((format) => ({
  if: { required: ['format'], properties: { format: { const: format } } },
  then: { properties: { quality: { minimum: QUALITY[format].min, maximum: QUALITY[format].max } } },
}));

/** Refuses `field` unless `when` holds. */
const onlyWhen = (when: object, field: string) => ({ if: when, else: { properties: { [field]: false } } });

const side = { type: 'integer', minimum: 1, maximum: MAX_OUTPUT_SIDE };

export const outputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'format'],
  properties: {
    name: { type: 'string', pattern: JOB_ID_PATTERN.source },
    width: side,
    height: side,
    fit: { type: 'string', enum: [...OUTPUT_FITS], default: 'inside' },
    position: { type: 'string', enum: [...OUTPUT_POSITIONS] },
    background: { type: 'string', pattern: BACKGROUND_PATTERN.source },
    format: { type: 'string', enum: [...OUTPUT_FORMATS] },
    quality: { type: 'integer' },
    strip: { type: 'boolean', default: true },
    withoutEnlargement: { type: 'boolean', default: true },
    animated: { type: 'boolean', default: false },
  },
  anyOf: [{ required: ['width'] }, { required: ['height'] }],
  allOf: [
    ...qualityByFormat,
    onlyWhen({ required: ['fit'], properties: { fit: { const: 'cover' } } }, 'position'),
    onlyWhen({ required: ['fit'], properties: { fit: { const: 'contain' } } }, 'background'),
    {
      if: { required: ['format'], properties: { format: { const: 'webp' } } },
      else: { properties: { animated: { const: false } } },
    },
    // sharp crops every frame alike: a smart crop has no single answer for an animation.
    {
      if: { required: ['animated'], properties: { animated: { const: true } } },
      then: { properties: { position: { enum: OUTPUT_POSITIONS.filter((position) => !SMART_CROPS.includes(position)) } } },
    },
  ],
} as const;

export const jobSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: MAX_URL_LENGTH, pattern: HTTP_URL_PATTERN },
    id: { type: 'string', pattern: JOB_ID_PATTERN.source },
    ops: { type: 'array', minItems: 1, items: { type: 'string', enum: [...KNOWN_OPS] } },
    outputs: { type: 'array', minItems: 1, maxItems: MAX_OUTPUTS, items: outputSchema },
  },
  allOf: [{ if: { required: ['outputs'] }, then: { properties: { ops: false } } }],
} as const;

/** The top-level fields of a job; a message decoder ignores any other (older or newer senders). */
export const JOB_FIELDS = Object.keys(jobSchema.properties);

let validate: ValidateFunction | undefined;

/**
 * Checks `value` against {@link jobSchema}; answers the issues (first is the one to report) or none.
 * The validator is compiled on the first call, not at import: a process (or a
 * Lambda container) that never sees a job does not pay for it.
 */
export function jobSchemaIssues(value: unknown): readonly ErrorObject[] {
  validate ??= compileJobSchema();
  return validate(value) ? [] : (validate.errors ?? []);
}

function compileJobSchema(): ValidateFunction {
  // No coercion and no defaults: a value is valid as sent or not at all, the same at every entry.
  // The schema is a constant, checked against the meta-schema in test/unit/schemas.test.ts
  // instead of at every start (compiling the meta-schema costs more than this schema).
  const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false, strictRequired: false, validateSchema: false });
  return ajv.compile(jobSchema);
}
