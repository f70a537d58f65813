import { pino, type Logger as PinoLogger } from 'pino';
import type { Config } from '#adapters/config.ts';

/** Wherever a request's headers may be logged, the credentials in them are not. */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'];

/** One JSON line per event on stdout, named after the service. */
export function createLogger(config: Pick<Config, 'logLevel' | 'otel'>): PinoLogger {
  return pino({ name: config.otel.serviceName, level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
