import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.ts';
import { JOB_FIELDS, JOB_ID_PATTERN, jobSchemaIssues, MAX_URL_LENGTH } from './job-schema.ts';
import { DEFAULT_OPS, type Op } from './ops.ts';
import { DEFAULT_BACKGROUND, DEFAULT_POSITION, QUALITY, type OutputSpec } from './output-spec.ts';
import { invalidInputOf } from './schema-issue.ts';

export { JOB_ID_PATTERN, MAX_URL_LENGTH };

/**
 * One unit of work, as it travels in a message body (docs/architecture.md,
 * "The job message"). Either the `thumbnail` op (`<id>.jpg`), as table rows
 * and older senders have it:
 *
 * ```json
 * { "id": "42", "url": "https://picsum.photos/seed/42/1024/768", "ops": ["thumbnail"] }
 * ```
 *
 * or a set of named outputs (`<id>/<name>.<ext>` and `<id>/manifest.json`),
 * each completed with its defaults:
 *
 * ```json
 * { "id": "42", "url": "…", "outputs": [{ "name": "w640", "width": 640, "format": "webp", … }] }
 * ```
 */
export type Job = ThumbnailJob | OutputsJob;

export interface ThumbnailJob {
  readonly id: string;
  readonly url: string;
  readonly ops: readonly Op[];
  readonly outputs?: never;
}

export interface OutputsJob {
  readonly id: string;
  readonly url: string;
  readonly outputs: readonly OutputSpec[];
  readonly ops?: never;
}

export function hasOutputs(job: Job): job is OutputsJob {
  return job.outputs !== undefined;
}

/** The output key of the `thumbnail` op for a job: `<id>.jpg`. */
export function thumbnailKey(id: string): string {
  return `${assertJobId(id, 'id')}.jpg`;
}

/** Validates an id (or an output name) that becomes part of a file name or an object key. */
export function assertJobId(value: unknown, field = 'id'): string {
  if (typeof value !== 'string' || !JOB_ID_PATTERN.test(value)) {
    throw new InvalidInputError(field, 'must be 1 to 128 characters of A-Z, a-z, 0-9, "_" or "-"');
  }
  return value;
}

/**
 * A stable id for a task given without one: the same URL and ops (or outputs)
 * always map to the same id, so the same task always maps to the same output.
 */
export function deriveJobId(url: string, ops: readonly Op[]): string {
  return hashedId(JSON.stringify([url, [...ops].sort()]));
}

function deriveOutputsJobId(url: string, outputs: readonly OutputSpec[]): string {
  // Outputs are complete (defaults applied) and their keys in one order, so equal sets hash equally.
  return hashedId(JSON.stringify([url, { outputs }]));
}

function hashedId(canonical: string): string {
  return `t-${createHash('sha256').update(canonical).digest('base64url').slice(0, 32)}`;
}

/**
 * Validates a request body (HTTP, CLI) into a {@link Job}: the job schema as
 * it stands, unknown fields included, then what a schema cannot say.
 * Throws `InvalidInputError` naming the field (`url`, `ops[1]`, `outputs[2].quality`).
 */
export function validateJob(value: unknown): Job {
  const issues = jobSchemaIssues(value);
  if (issues.length > 0) throw invalidInputOf(issues, 'body');
  return completeJob(value as JobBody);
}

/**
 * Decodes an untrusted message body into a {@link Job}, like {@link validateJob}
 * except that top-level fields it does not know are ignored: a message from an
 * older or newer sender still runs.
 */
export function parseJob(value: unknown): Job {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('body', 'must be a JSON object');
  }
  const known = Object.fromEntries(Object.entries(value).filter(([field]) => JOB_FIELDS.includes(field)));
  return validateJob(known);
}

interface JobBody {
  readonly id?: string;
  readonly url: string;
  readonly ops?: readonly Op[];
  readonly outputs?: readonly OutputBody[];
}

/** An output as sent: only `name` and `format` are sure to be there (and a side, which the schema checked). */
type OutputBody = Partial<OutputSpec> & Pick<OutputSpec, 'name' | 'format'>;

function completeJob(body: JobBody): Job {
  const url = parseUrl(body.url);
  if (body.outputs) {
    const outputs = body.outputs.map(completeOutput);
    assertUniqueNames(outputs);
    const id = body.id ?? deriveOutputsJobId(url, outputs);
    return Object.freeze({ id, url, outputs: Object.freeze(outputs) });
  }
  const ops = [...new Set(body.ops ?? DEFAULT_OPS)];
  const id = body.id ?? deriveJobId(url, ops);
  return Object.freeze({ id, url, ops: Object.freeze(ops) });
}

function parseUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new InvalidInputError('url', 'must be an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidInputError('url', 'must use http or https');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new InvalidInputError('url', 'must not carry credentials');
  }
  return value;
}

/** An output with every default filled in, its keys always in this order. */
function completeOutput(output: OutputBody): OutputSpec {
  const fit = output.fit ?? 'inside';
  const quality = output.quality ?? QUALITY[output.format].default;
  return Object.freeze({
    name: output.name,
    ...(output.width !== undefined && { width: output.width }),
    ...(output.height !== undefined && { height: output.height }),
    fit,
    ...(fit === 'cover' && { position: output.position ?? DEFAULT_POSITION }),
    ...(fit === 'contain' && { background: output.background ?? DEFAULT_BACKGROUND }),
    format: output.format,
    ...(quality !== undefined && { quality }),
    strip: output.strip ?? true,
    withoutEnlargement: output.withoutEnlargement ?? true,
    animated: output.animated ?? false,
  });
}

function assertUniqueNames(outputs: readonly OutputSpec[]): void {
  const seen = new Set<string>();
  outputs.forEach((output, index) => {
    if (seen.has(output.name)) throw new InvalidInputError(`outputs[${index}].name`, `"${output.name}" is already the name of another output`);
    seen.add(output.name);
  });
}
