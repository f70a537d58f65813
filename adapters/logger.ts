import { pino, type Logger as PinoLogger } from 'pino';
import type { Config } from '#adapters/config.ts';

/** One JSON line per event on stdout, named after the service. */
export function createLogger(config: Pick<Config, 'logLevel' | 'otel'>): PinoLogger {
  return pino({ name: config.otel.serviceName, level: config.logLevel });
}
