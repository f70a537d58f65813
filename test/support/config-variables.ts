import { loadConfig } from '#adapters/config.ts';

/** Names loadConfig actually looks up, for every entry, seen through a recording env. */
export function variablesLoadConfigReads(): Set<string> {
  const seen = new Set<string>();
  const recording = new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (typeof name === 'string') seen.add(name);
      return undefined;
    },
  });
  for (const entry of ['api', 'worker', 'host'] as const) loadConfig(recording, entry);
  return seen;
}
