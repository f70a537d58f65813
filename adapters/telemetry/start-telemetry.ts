import type { Config } from '#adapters/config.ts';
import type { Logger } from '#functions/ports.ts';

export interface Telemetry {
  /** Flushes pending spans and stops exporting; safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * Sets OpenTelemetry up once for an entry point. Call it first, before the
 * adapters are built. (Placeholder until the SDK is wired: exports nothing.)
 */
export async function startTelemetry(_config: Config['otel'], _log: Logger): Promise<Telemetry> {
  return { shutdown: async () => {} };
}
