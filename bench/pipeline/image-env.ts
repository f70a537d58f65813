import { readFileSync } from 'node:fs';

/**
 * The environment the container image gives every process: the `ENV`
 * instructions of the Dockerfile's last stage, except `DATA_DIR` (each
 * benchmark process gets its own). The benchmark runs the bundles with it,
 * so "defaults" means what a deployment runs with.
 */
export function imageEnv(dockerfile = 'Dockerfile'): Record<string, string> {
  const text = readFileSync(dockerfile, 'utf8').replace(/\\\r?\n/g, ' ');
  const stages = text.split(/^FROM\s/m);
  const env: Record<string, string> = {};
  for (const line of stages.at(-1)!.split('\n')) {
    const instruction = /^ENV\s+(.*)$/.exec(line.trim());
    if (!instruction) continue;
    for (const [, name, value] of instruction[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      env[name!] = value!.replace(/^"|"$/g, '');
    }
  }
  delete env.DATA_DIR;
  return env;
}
