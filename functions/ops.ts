/** Operations a job may ask for. `thumbnail` is the default and the only one built so far. */
export const KNOWN_OPS = ['thumbnail'] as const;

export type Op = (typeof KNOWN_OPS)[number];

export const DEFAULT_OPS: readonly Op[] = ['thumbnail'];

export function isKnownOp(value: unknown): value is Op {
  return typeof value === 'string' && (KNOWN_OPS as readonly string[]).includes(value);
}
