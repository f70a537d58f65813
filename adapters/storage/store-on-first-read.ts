import type { ImageStore, StoredObject } from '#functions/ports.ts';

/**
 * Reads through a store opened on the first read rather than at start, and
 * opened again after a failed open: the api starts (and serves everything
 * else) while its `DATA_DIR` or bucket is not reachable yet; a thumbnail read
 * meanwhile fails with the store's own error (a `TransientError`, so a 503).
 *
 * @example
 * const thumbnails = new StoreOnFirstRead(() => makeStore(config, log));
 * await thumbnails.read('42.jpg');
 */
export class StoreOnFirstRead implements Pick<ImageStore, 'read' | 'close'> {
  #store: Promise<ImageStore> | undefined;

  constructor(private readonly open: () => Promise<ImageStore>) {}

  async read(key: string): Promise<StoredObject | undefined> {
    if (!this.#store) {
      const opening = this.open();
      this.#store = opening;
      opening.catch(() => {
        if (this.#store === opening) this.#store = undefined;
      });
    }
    return (await this.#store).read(key);
  }

  async close(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    await (await store?.catch(() => undefined))?.close();
  }
}
