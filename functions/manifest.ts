import { PermanentError } from './errors.ts';
import { manifestKey } from './output-keys.ts';
import type { OutputFormat } from './output-spec.ts';
import type { ImageStore } from './ports.ts';

/** One line of a manifest: what one output of the job is. */
export interface ManifestEntry {
  readonly name: string;
  readonly key: string;
  readonly format: OutputFormat;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
}

/**
 * `<id>/manifest.json`: written last, once every output of a job exists, so its
 * presence says the set is complete.
 *
 * @example
 * { "id": "42", "outputs": [{ "name": "w640", "key": "42/w640.webp", "format": "webp", "width": 640, "height": 480, "bytes": 31337 }] }
 */
export interface Manifest {
  readonly id: string;
  readonly outputs: readonly ManifestEntry[];
}

export const MANIFEST_CONTENT_TYPE = 'application/json';

export function serializeManifest(manifest: Manifest): Uint8Array {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * The manifest of job `id`, or undefined while the job has none (not run, or
 * not finished). For readers such as a job status route.
 */
export async function readManifest(store: ImageStore, id: string): Promise<Manifest | undefined> {
  const key = manifestKey(id);
  const object = await store.read(key);
  if (!object) return undefined;
  try {
    return JSON.parse(Buffer.from(object.data).toString('utf8')) as Manifest;
  } catch (cause) {
    throw new PermanentError('BAD_MANIFEST', `${store.locate(key)} is not JSON`, { cause });
  }
}
