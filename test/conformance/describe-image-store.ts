import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InvalidInputError } from '#functions/errors.ts';
import type { ImageStore } from '#functions/ports.ts';

/** What a store keeps under a key, read back by the backend's own means (a file, a GET). */
export interface StoredImage {
  readonly data: Uint8Array;
  /** Undefined for stores that keep no content type (a file). */
  readonly contentType: string | undefined;
}

export interface ImageStoreFixture {
  readonly store: ImageStore;
  read(key: string): Promise<StoredImage | undefined>;
  /** Closes the store and removes whatever the fixture made. */
  cleanup(): Promise<void>;
}

/** What the backend can promise, so each case asserts all that holds for it and nothing more. */
export interface ImageStoreTraits {
  /** The backend refuses a second create of a key itself: a put over an existing key says `exists`, and of concurrent puts exactly one says `written`. */
  readonly conditionalWrites: boolean;
  readonly keepsContentType: boolean;
}

/**
 * The {@link ImageStore} contract (functions/ports.ts) as node:test cases, run
 * against every implementation, the in-memory fake included. Each case gets a
 * fresh fixture and fresh keys.
 *
 * @example
 * describeImageStore('fs', async () => ({ store, read, cleanup }), { conditionalWrites: true, keepsContentType: false });
 */
export function describeImageStore(
  name: string,
  makeFixture: () => Promise<ImageStoreFixture>,
  traits: ImageStoreTraits,
): void {
  describe(`ImageStore conformance: ${name}`, () => {
    let fixture: ImageStoreFixture;
    let store: ImageStore;

    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('says a key that was never written does not exist', async () => {
      const key = aKey();

      const exists = await store.exists(key);

      assert.equal(exists, false);
      assert.equal(await fixture.read(key), undefined);
    });

    it('says a key exists once it was put', async () => {
      const key = aKey();
      await store.putIfAbsent(key, aPayload(1), 'image/jpeg');

      const exists = await store.exists(key);

      assert.equal(exists, true);
    });

    it('keeps the bytes it was given, and the content type where the backend keeps one', async () => {
      const key = aKey();
      const payload = aPayload(2);

      await store.putIfAbsent(key, payload, 'image/jpeg');

      const stored = await fixture.read(key);
      assert.ok(stored, 'the object is stored');
      assert.deepEqual(Buffer.from(stored.data), Buffer.from(payload));
      assert.equal(stored.contentType, traits.keepsContentType ? 'image/jpeg' : undefined);
    });

    it(
      traits.conditionalWrites
        ? 'answers written for a first put and exists for a second, leaving the first bytes untouched'
        : 'answers written for each of two puts, the second replacing the object whole (no conditional writes)',
      async () => {
        const key = aKey();
        const first = aPayload(3);
        const second = aPayload(4, 2 * first.byteLength);

        const outcomes = [
          await store.putIfAbsent(key, first, 'image/jpeg'),
          await store.putIfAbsent(key, second, 'image/jpeg'),
        ];

        assert.deepEqual(outcomes, traits.conditionalWrites ? ['written', 'exists'] : ['written', 'written']);
        const stored = await fixture.read(key);
        assert.deepEqual(Buffer.from(stored?.data ?? []), Buffer.from(traits.conditionalWrites ? first : second));
      },
    );

    it('stores exactly one whole payload when puts of one key race with different bytes', async () => {
      const key = aKey();
      const payloads = Array.from({ length: 8 }, (_, index) => aPayload(10 + index));

      const outcomes = await Promise.all(payloads.map((payload) => store.putIfAbsent(key, payload, 'image/jpeg')));

      const stored = await fixture.read(key);
      assert.ok(stored, 'the object is stored');
      const winner = payloads.findIndex((payload) => Buffer.from(payload).equals(Buffer.from(stored.data)));
      assert.notEqual(winner, -1, 'the stored bytes are exactly one of the payloads, never a mix');
      const written = outcomes.filter((outcome) => outcome === 'written').length;
      assert.ok(written >= 1, 'at least one put says written');
      if (traits.conditionalWrites) {
        assert.equal(written, 1, 'exactly one put says written');
        assert.equal(outcomes[winner], 'written', 'the put that says written is the one stored');
      }
      assert.ok(outcomes.every((outcome) => outcome === 'written' || outcome === 'exists'));
    });

    it('keeps an output under its job directory, with the content type of its format where the backend keeps one', async () => {
      const key = aNestedKey('webp');
      const payload = aPayload(6);

      const outcome = await store.putIfAbsent(key, payload, 'image/webp');

      assert.equal(outcome, 'written');
      assert.equal(await store.exists(key), true);
      const stored = await fixture.read(key);
      assert.deepEqual(Buffer.from(stored?.data ?? []), Buffer.from(payload));
      assert.equal(stored?.contentType, traits.keepsContentType ? 'image/webp' : undefined);
    });

    it('reads back what was put, and nothing for a key never written', async () => {
      const key = aNestedKey('json');
      const payload = Buffer.from('{"outputs":[]}');
      await store.putIfAbsent(key, payload, 'application/json');

      const [read, missing] = await Promise.all([store.read(key), store.read(aNestedKey('png'))]);

      assert.deepEqual(Buffer.from(read?.data ?? []), payload);
      assert.equal(read?.contentType, traits.keepsContentType ? 'application/json' : undefined);
      assert.equal(missing, undefined);
    });

    it('names where a key lives', () => {
      const key = aKey();

      const location = store.locate(key);

      assert.ok(location.endsWith(key), `${location} ends with ${key}`);
    });

    for (const [label, key] of BAD_KEYS) {
      it(`refuses ${label} with InvalidInputError`, async () => {
        const isInvalidKey = (error: unknown) => error instanceof InvalidInputError && error.field === 'key';

        await assert.rejects(() => store.exists(key), isInvalidKey);
        await assert.rejects(() => store.putIfAbsent(key, aPayload(5), 'image/jpeg'), isInvalidKey);
        await assert.rejects(() => store.read(key), isInvalidKey);
      });
    }
  });
}

const BAD_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['a parent-directory key (../x.jpg)', '../x.jpg'],
  ['a key two directories deep (a/b/c.jpg)', 'a/b/c.jpg'],
  ['a parent-directory name (a/../b.jpg)', 'a/../b.jpg'],
  ['an output with an unknown extension (a/b.gif)', 'a/b.gif'],
  ['an output with no name (a/.webp)', 'a/.webp'],
  ['an absolute key (/a/b.webp)', '/a/b.webp'],
  ['an empty key', ''],
  ['a bare extension (.jpg)', '.jpg'],
  ['a 129-character id', `${'a'.repeat(129)}.jpg`],
  ['another extension (x.png)', 'x.png'],
];

/** A fresh `<id>.jpg` key, unique across runs so stores that outlive a case never collide. */
export function aKey(): string {
  return `conf-${randomBytes(8).toString('hex')}.jpg`;
}

/** A fresh `<id>/<name>.<ext>` key, as a job with named outputs writes. */
export function aNestedKey(extension: 'jpg' | 'webp' | 'avif' | 'png' | 'json'): string {
  return `conf-${randomBytes(8).toString('hex')}/out-${randomBytes(4).toString('hex')}.${extension}`;
}

/**
 * JPEG-framed bytes (SOI … EOI) that differ for every seed. Payloads of one
 * size differ in every byte, so a mix of two is never equal to either.
 */
export function aPayload(seed: number, size = 16 * 1024): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index += 1) bytes[index] = (seed * 31 + index) % 251;
  bytes.set([0xff, 0xd8, 0xff, 0xe0], 0);
  bytes.set([0xff, 0xd9], size - 2);
  return bytes;
}
