import { ConfigError, loadConfig, type Config, type Entry } from '#adapters/config.ts';

/** For entry points: the config, or one line naming the bad variable and exit code 1. */
export function loadConfigOrExit(entry: Entry): Config {
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
