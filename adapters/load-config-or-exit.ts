import { ConfigError, loadConfig, type Entry, type EntryConfig } from '#adapters/config.ts';

/** For entry points: the config, or one line naming the bad variable and exit code 1. */
export function loadConfigOrExit<E extends Entry>(entry: E): EntryConfig<E> {
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
