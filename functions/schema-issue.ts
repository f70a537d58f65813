import { InvalidInputError } from './errors.ts';
import { CONDITIONAL_MESSAGES, PATTERN_MESSAGES } from './job-schema.ts';

/** One issue as a JSON schema validator (ajv, also inside Fastify) reports it. */
export interface SchemaIssue {
  readonly keyword: string;
  readonly instancePath: string;
  readonly schemaPath?: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
}

/**
 * The first of a validator's issues as an {@link InvalidInputError} naming the
 * field as a caller wrote it (`outputs[2].quality`); `part` names the whole
 * value (`body`, `querystring`). A missing alternative (`anyOf`: width or
 * height) is reported on the object that lacks it, not on one of the branches.
 */
export function invalidInputOf(issues: readonly SchemaIssue[], part: string, options?: { cause?: unknown }): InvalidInputError {
  const first = issues[0];
  if (!first) return new InvalidInputError(part, 'is invalid', options);
  const issue = first.schemaPath?.includes('/anyOf/') ? (issues.find((candidate) => candidate.keyword === 'anyOf') ?? first) : first;
  const field = fieldOf(issue, part);
  return new InvalidInputError(field, describe(issue, field), options);
}

/** `/outputs/2/quality` → `outputs[2].quality`; a missing or unknown property names itself; the whole value is `part`. */
function fieldOf(issue: SchemaIssue, part: string): string {
  const segments = issue.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
  const child = issue.params.missingProperty ?? issue.params.additionalProperty;
  if (typeof child === 'string') segments.push(child);
  const path = segments.map((segment, index) => (/^\d+$/.test(segment) ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join('');
  return path === '' ? part : path;
}

function describe(issue: SchemaIssue, field: string): string {
  switch (issue.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known field';
    case 'anyOf':
      return 'needs a width, a height or both';
    case 'enum':
      return `must be one of ${(issue.params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`;
    case 'pattern':
      return PATTERN_MESSAGES.get(String(issue.params.pattern)) ?? `must match ${String(issue.params.pattern)}`;
    case 'minimum':
    case 'maximum':
      return `must be ${issue.keyword === 'minimum' ? 'at least' : 'at most'} ${String(issue.params.limit)}`;
    case 'false schema':
    case 'const':
      return CONDITIONAL_MESSAGES.get(field.replace(/^.*[.[]/, '')) ?? issue.message ?? 'is not allowed here';
    default:
      return issue.message ?? 'is invalid';
  }
}
