import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A rendered Kubernetes object, as kustomize wrote it. */
export interface RenderedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly [field: string]: unknown;
}

/**
 * The objects `kubectl kustomize <dir>` renders (`dir` relative to the repository).
 * Fails, never skips, without kubectl: .ci/run makes sure there is one.
 */
export async function kustomize(dir: string): Promise<RenderedObject[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('kubectl', ['kustomize', join(ROOT, dir)], { maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('kubectl is not on PATH: the Kubernetes manifests are rendered with `kubectl kustomize` (.ci/run installs it)', { cause: error });
    }
    throw error;
  }
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as RenderedObject | null)
    .filter((object): object is RenderedObject => object !== null);
}
