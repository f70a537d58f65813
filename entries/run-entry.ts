import type { Logger as PinoLogger } from 'pino';
import { errorSummary } from '#functions/errors.ts';
import { ConfigError, loadConfig, type Entry, type EntryConfig } from '#adapters/config.ts';
import { createLogger } from '#adapters/logger.ts';
import { ShutdownPlan } from './shutdown-plan.ts';

export interface EntryContext<E extends Entry> {
  readonly config: EntryConfig<E>;
  readonly log: PinoLogger;
  /** Add a step for everything opened, in the phase it belongs to. */
  readonly shutdown: ShutdownPlan;
}

/**
 * The life of a process entry point: reads the config (a bad variable prints
 * one line naming it and exits 1), creates the logger, runs `start`, and logs
 * `<entry> ready` with what `start` returns. SIGTERM or SIGINT, at any time,
 * runs the shutdown plan and exits 0; a failed start runs it and exits 1.
 *
 * @example
 * await runEntry('worker', async ({ config, log, shutdown }) => {
 *   const consumer = …;
 *   shutdown.add('stop intake', 'consumer', () => consumer.close());
 *   await consumer.start();
 *   return { queue: config.queue };
 * });
 */
export async function runEntry<E extends Entry>(entry: E, start: (context: EntryContext<E>) => Promise<Record<string, unknown>>): Promise<void> {
  const config = loadConfigOrExit(entry);
  const log = createLogger(config);
  const shutdown = new ShutdownPlan(entry, log);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void shutdown.close(signal).finally(() => process.exit(0));
    });
  }

  try {
    const ready = await start({ config, log, shutdown });
    if (!shutdown.closing) log.info(ready, `${entry} ready`);
  } catch (error) {
    log.fatal({ err: errorSummary(error) }, `${entry} failed to start`);
    await shutdown.close('startup failed');
    process.exit(1);
  }
}

function loadConfigOrExit<E extends Entry>(entry: E): EntryConfig<E> {
  try {
    return loadConfig(process.env, entry);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${entry}: invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}
