import { assertOutputKey } from '#adapters/storage/output-key.ts';
import type { ImageStore, PutOutcome, StoredObject } from '#functions/ports.ts';

/** In-memory {@link ImageStore}; runs the same conformance suite as the real stores. */
export class MemoryStore implements ImageStore {
  readonly objects = new Map<string, { data: Uint8Array; contentType: string }>();
  existsCalls = 0;

  async exists(key: string): Promise<boolean> {
    assertOutputKey(key);
    this.existsCalls += 1;
    return this.objects.has(key);
  }

  async putIfAbsent(key: string, data: Uint8Array, contentType: string): Promise<PutOutcome> {
    assertOutputKey(key);
    if (this.objects.has(key)) return 'exists';
    this.objects.set(key, { data: Uint8Array.from(data), contentType });
    return 'written';
  }

  locate(key: string): string {
    return `memory://${key}`;
  }

  async read(key: string): Promise<(StoredObject & { contentType: string }) | undefined> {
    assertOutputKey(key);
    return this.objects.get(key);
  }

  async close(): Promise<void> {}
}
