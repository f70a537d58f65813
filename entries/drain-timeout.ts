/**
 * How long shutdown lets running jobs finish before handing them back: below
 * Kubernetes' default 30 s grace period, so the broker sees clean requeues
 * rather than a kill.
 */
export const DRAIN_TIMEOUT_MS = 25_000;
