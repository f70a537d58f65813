import { assertJobId } from './job.ts';
import { EXTENSIONS, type OutputSpec } from './output-spec.ts';

/**
 * The store keys a job writes: `<id>.jpg` for the `thumbnail` op, and for a
 * job with `outputs`, `<id>/<name>.<ext>` per output plus `<id>/manifest.json`.
 */
const OUTPUT_KEY = /^[A-Za-z0-9_-]{1,128}(?:\.jpg|\/[A-Za-z0-9_-]{1,128}\.(?:jpg|webp|avif|png|json))$/;

export function outputKey(id: string, output: Pick<OutputSpec, 'name' | 'format'>): string {
  return `${assertJobId(id, 'id')}/${assertJobId(output.name, 'name')}.${EXTENSIONS[output.format]}`;
}

export function manifestKey(id: string): string {
  return `${assertJobId(id, 'id')}/manifest.json`;
}

/** True for every key {@link outputKey}, {@link manifestKey} and `thumbnailKey` can make, and nothing else. */
export function isOutputKey(key: unknown): key is string {
  return typeof key === 'string' && OUTPUT_KEY.test(key);
}
