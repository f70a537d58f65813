// Readers for the repository's own deployment sources (Dockerfile, adapters/config.ts),
// shared by the tests that check the compose stack and the Kubernetes manifests against them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function readText(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** `NAME` passed as the first argument of a `read.*` call in adapters/config.ts. */
export function configVariables(): Set<string> {
  const source = readText('adapters/config.ts');
  return new Set([...source.matchAll(/\bread\.\w+\(\s*'([A-Z][A-Z0-9_]*)'/g)].map((match) => match[1]!));
}

/** The Dockerfile's stages, each as its FROM line and the instructions after it. */
export function dockerStages(): Array<{ from: string; instructions: string[] }> {
  const instructions = readText('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Array<{ from: string; instructions: string[] }> = [];
  for (const instruction of instructions) {
    if (/^FROM\s/i.test(instruction)) stages.push({ from: instruction, instructions: [] });
    else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** The tag of an image reference (`name:tag@digest`), or undefined when it has none. */
export function imageTag(image: string): string | undefined {
  const withoutDigest = image.split('@')[0]!;
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : undefined;
}
