import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { PermanentError, TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { FetchedImage, ImageFetcher, TransformSlots } from '#functions/ports.ts';
import { processImage, type ProcessImageDeps } from '#functions/process-image.ts';
import type { ThumbnailOptions } from '#functions/thumbnail.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { FakeClock, jobContext } from '#test/fakes/support.ts';
import { Slots } from '#adapters/slots.ts';
import {
  firstPixel,
  htmlBytes,
  jobOf,
  jpegInColourProfile,
  jpegOf,
  jpegWithOrientation,
  pngWithAlpha,
} from '#test/support/image-factory.ts';

const THUMBNAIL: ThumbnailOptions = { size: 400, maxInputPixels: 100_000_000 };

interface World {
  readonly deps: ProcessImageDeps;
  readonly fetcher: MemoryFetcher;
  readonly store: MemoryStore;
  readonly images: MemoryImagesRepo;
  readonly clock: FakeClock;
}

/** Fakes wired as a worker would wire the real ports; `job`'s row is in the table. */
function worldFor(job: Job, overrides: { store?: MemoryStore; thumbnail?: ThumbnailOptions; fetcher?: ImageFetcher } = {}): World {
  const fetcher = new MemoryFetcher();
  const store = overrides.store ?? new MemoryStore();
  const images = new MemoryImagesRepo([{ id: job.id, url: job.url }]);
  const clock = new FakeClock(1_000);
  const deps: ProcessImageDeps = {
    fetcher: overrides.fetcher ?? fetcher,
    store,
    images,
    clock,
    thumbnail: overrides.thumbnail ?? THUMBNAIL,
  };
  return { deps, fetcher, store, images, clock };
}

async function writtenImage(store: MemoryStore, key: string) {
  const object = await store.read(key);
  assert.ok(object, `${key} was not written`);
  return { object, metadata: await sharp(object.data).metadata() };
}

describe('processImage: the thumbnail it writes', () => {
  const shapes = [
    { name: 'landscape', width: 1024, height: 768, expected: [400, 300] },
    { name: 'portrait', width: 600, height: 900, expected: [267, 400] },
    { name: 'square', width: 800, height: 800, expected: [400, 400] },
  ] as const;
  for (const shape of shapes) {
    it(`writes <id>.jpg no larger than 400 px on a side for a ${shape.name} image`, async () => {
      const job = jobOf({ id: `shape-${shape.name}` });
      const world = worldFor(job);
      world.fetcher.serve(job.url, await jpegOf(shape.width, shape.height));

      const result = await processImage(job, world.deps, jobContext());

      assert.equal(result.outcome, 'written');
      assert.equal(result.key, `shape-${shape.name}.jpg`);
      assert.equal(result.location, `memory://shape-${shape.name}.jpg`);
      const { object, metadata } = await writtenImage(world.store, result.key);
      assert.equal(object.contentType, 'image/jpeg');
      assert.equal(metadata.format, 'jpeg');
      assert.deepEqual([metadata.width, metadata.height], shape.expected);
      assert.deepEqual([result.width, result.height], shape.expected);
      assert.equal(result.bytes, object.data.byteLength);
    });
  }

  it('never enlarges a small image', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await jpegOf(120, 80));

    const result = await processImage(job, world.deps, jobContext());

    const { metadata } = await writtenImage(world.store, result.key);
    assert.deepEqual([metadata.width, metadata.height], [120, 80]);
  });

  it('applies the EXIF orientation: a 600x300 JPEG tagged 6 becomes 200x400, untagged', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await jpegWithOrientation(600, 300, 6));

    const result = await processImage(job, world.deps, jobContext());

    const { metadata } = await writtenImage(world.store, result.key);
    assert.deepEqual([metadata.width, metadata.height], [200, 400]);
    assert.ok(metadata.orientation === undefined || metadata.orientation === 1, `orientation ${metadata.orientation} left in the output`);
  });

  it('writes an sRGB JPEG from a CMYK JPEG', async () => {
    const job = jobOf();
    const world = worldFor(job);
    const input = await jpegInColourProfile(64, 48, 'cmyk');
    assert.equal((await sharp(input).metadata()).space, 'cmyk');
    world.fetcher.serve(job.url, input);

    const result = await processImage(job, world.deps, jobContext());

    const { metadata } = await writtenImage(world.store, result.key);
    assert.equal(metadata.format, 'jpeg');
    assert.equal(metadata.space, 'srgb');
    assert.equal(metadata.channels, 3);
  });

  it('converts a Display P3 JPEG to sRGB colours rather than reading P3 numbers as sRGB', async () => {
    const job = jobOf();
    const world = worldFor(job);
    const intended = [200, 80, 60] as const;
    const input = await jpegInColourProfile(64, 48, 'p3', intended);
    const stored = [...(await sharp(input, { ignoreIcc: true }).raw().toBuffer()).subarray(0, 3)];
    assert.ok(Math.abs(stored[0]! - intended[0]) > 8, `the fixture is not really P3: ${stored}`);
    world.fetcher.serve(job.url, input);

    const result = await processImage(job, world.deps, jobContext());

    const { object, metadata } = await writtenImage(world.store, result.key);
    assert.equal(metadata.space, 'srgb');
    const pixel = await firstPixel(object.data);
    pixel.forEach((value, channel) => {
      assert.ok(Math.abs(value - intended[channel]!) <= 4, `channel ${channel}: ${value}, expected about ${intended[channel]}`);
    });
  });

  it('writes a PNG with alpha as a 3-channel JPEG', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await pngWithAlpha(500, 250), 'image/png');

    const result = await processImage(job, world.deps, jobContext());

    const { metadata } = await writtenImage(world.store, result.key);
    assert.equal(metadata.format, 'jpeg');
    assert.equal(metadata.channels, 3);
    assert.equal(metadata.hasAlpha, false);
    assert.deepEqual([metadata.width, metadata.height], [400, 200]);
  });

  it('reports the time taken by the clock it was given', async () => {
    const job = jobOf();
    const world = worldFor(job);
    const inner = world.fetcher.serve(job.url, await jpegOf(300, 200));
    const slowFetcher: ImageFetcher = {
      async fetch(url: string, signal: AbortSignal): Promise<FetchedImage> {
        world.clock.time += 250;
        return inner.fetch(url, signal);
      },
    };
    const deps = { ...world.deps, fetcher: slowFetcher };

    const result = await processImage(job, deps, jobContext());

    assert.equal(result.ms, 250);
  });
});

describe('processImage: idempotency and the images table', () => {
  it('skips the download when the thumbnail exists, and still marks the row processed', async () => {
    const job = jobOf();
    const world = worldFor(job);
    const earlier = await jpegOf(40, 30);
    await world.store.putIfAbsent('42.jpg', earlier, 'image/jpeg');
    world.fetcher.serve(job.url, await jpegOf(800, 600));

    const result = await processImage(job, world.deps, jobContext());

    assert.equal(result.outcome, 'skipped');
    assert.deepEqual(world.fetcher.requested, []);
    assert.deepEqual((await world.store.read('42.jpg'))?.data, Uint8Array.from(earlier));
    assert.equal(world.images.rows.get('42')?.processed, true);
  });

  it('marks the table row processed once the thumbnail is written', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await jpegOf(800, 600));

    await processImage(job, world.deps, jobContext());

    assert.deepEqual(world.images.rows.get('42'), {
      id: '42',
      url: job.url,
      processed: true,
      enqueued: false,
      failure: undefined,
    });
  });

  it('marks the row with the job id, whatever URL the job carries', async () => {
    const row = jobOf({ id: '7' });
    const world = worldFor(row);
    const taskJob = jobOf({ id: '7', url: 'https://other.test/picture.jpg' });
    world.fetcher.serve(taskJob.url, await jpegOf(500, 500));

    const result = await processImage(taskJob, world.deps, jobContext());

    assert.equal(result.outcome, 'written');
    assert.equal(world.images.rows.get('7')?.processed, true);
  });

  it('records the job as written, with its attempt and output', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await jpegOf(800, 600));

    await processImage(job, world.deps, jobContext({ attempt: 2, isLastAttempt: false }));

    const record = world.images.jobs.get('42');
    assert.equal(record?.state, 'written');
    assert.equal(record?.attempts, 2);
    assert.deepEqual(record?.output, { key: '42.jpg', location: 'memory://42.jpg' });
    assert.equal(record?.error, null);
  });

  it('records the job as skipped when its output already exists', async () => {
    const job = jobOf();
    const world = worldFor(job);
    await world.store.putIfAbsent('42.jpg', await jpegOf(10, 10), 'image/jpeg');

    await processImage(job, world.deps, jobContext());

    assert.equal(world.images.jobs.get('42')?.state, 'skipped');
  });

  it('answers skipped when another worker wrote the key between exists and put', async () => {
    const competitor = Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]);
    class RacingStore extends MemoryStore {
      override async exists(key: string): Promise<boolean> {
        const answer = await super.exists(key);
        this.objects.set(key, { data: competitor, contentType: 'image/jpeg' });
        return answer;
      }
    }
    const job = jobOf();
    const store = new RacingStore();
    const world = worldFor(job, { store });
    world.fetcher.serve(job.url, await jpegOf(800, 600));

    const result = await processImage(job, world.deps, jobContext());

    assert.equal(result.outcome, 'skipped');
    assert.deepEqual(world.fetcher.requested, [job.url]);
    assert.equal((await store.read('42.jpg'))?.data, competitor);
    assert.equal(world.images.rows.get('42')?.processed, true);
  });
});

describe('processImage: transform slots', () => {
  it('downloads while another job holds the only transform slot, and transforms once it is freed', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await jpegOf(1024, 768));
    const slots = new Slots(1);
    const held = await slots.acquire(new AbortController().signal);
    const events: string[] = [];
    const transforms: TransformSlots = {
      async acquire(signal) {
        events.push('asked');
        const release = await slots.acquire(signal);
        events.push('entered');
        return () => (events.push('left'), release());
      },
    };

    const running = processImage(job, { ...world.deps, transforms }, jobContext());
    // Either the job asks for the slot, or (were it not to ask) its thumbnail appears.
    await waitFor(() => events.length > 0 || world.store.objects.size > 0);
    assert.deepEqual(events, ['asked']);
    assert.equal(world.store.objects.size, 0);

    held();
    assert.equal((await running).outcome, 'written');
    assert.deepEqual(events, ['asked', 'entered', 'left']);
    assert.equal(world.store.objects.size, 1);
  });

  it('hands the message back untouched when shutdown aborts the wait for a slot', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, await jpegOf(1024, 768));
    const slots = new Slots(1);
    const held = await slots.acquire(new AbortController().signal);
    const controller = new AbortController();
    const fetcher: ImageFetcher = {
      fetch: (url, s) => world.fetcher.fetch(url, s).finally(() => setImmediate(() => controller.abort(new Error('worker shutting down')))),
    };

    await assert.rejects(
      processImage(job, { ...world.deps, fetcher, transforms: slots }, jobContext({ signal: controller.signal, isLastAttempt: true })),
      /worker shutting down/,
    );
    held();
    assert.equal(world.images.rows.get('42')?.failure, undefined);
    assert.equal(world.store.objects.size, 0);
    assert.equal(slots.idle, true);
  });
});

describe('processImage: failures', () => {
  it('marks the row failed with HTTP_404 and rethrows a PermanentError when the image is missing', async () => {
    const job = jobOf();
    const world = worldFor(job);

    await assert.rejects(processImage(job, world.deps, jobContext()), (error: unknown) => {
      assert.ok(error instanceof PermanentError);
      assert.equal(error.code, 'HTTP_404');
      return true;
    });

    assert.equal(world.images.rows.get('42')?.failure?.code, 'HTTP_404');
    assert.match(world.images.rows.get('42')?.failure?.message ?? '', /404/);
    assert.equal(world.images.rows.get('42')?.processed, false);
    assert.equal(world.store.objects.size, 0);
  });

  it('refuses bytes that are not an image with NOT_AN_IMAGE', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.serve(job.url, htmlBytes(), 'text/html');

    await assert.rejects(processImage(job, world.deps, jobContext()), { name: 'PermanentError', code: 'NOT_AN_IMAGE' });

    assert.equal(world.images.rows.get('42')?.failure?.code, 'NOT_AN_IMAGE');
    assert.equal(world.store.objects.size, 0);
  });

  it('refuses an image over maxInputPixels with TOO_MANY_PIXELS, without writing', async () => {
    const job = jobOf();
    const world = worldFor(job, { thumbnail: { size: 400, maxInputPixels: 1000 } });
    world.fetcher.serve(job.url, await jpegOf(100, 100));

    await assert.rejects(processImage(job, world.deps, jobContext()), { name: 'PermanentError', code: 'TOO_MANY_PIXELS' });

    assert.equal(world.store.objects.size, 0);
    assert.equal(world.images.rows.get('42')?.failure?.code, 'TOO_MANY_PIXELS');
  });

  it('does not mark the row failed on a transient failure while attempts remain', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.fail(job.url, new TransientError('TIMEOUT', 'no answer within 30000 ms'));

    await assert.rejects(
      processImage(job, world.deps, jobContext({ attempt: 2, isLastAttempt: false })),
      { name: 'TransientError', code: 'TIMEOUT' },
    );

    assert.equal(world.images.rows.get('42')?.failure, undefined);
    const record = world.images.jobs.get('42');
    assert.deepEqual(
      [record?.state, record?.attempts, record?.error],
      ['queued', 2, { code: 'TIMEOUT', message: 'no answer within 30000 ms' }],
      'the job records the attempt and why it will be retried',
    );
  });

  it('marks the row failed on a transient failure on the last attempt', async () => {
    const job = jobOf();
    const world = worldFor(job);
    world.fetcher.fail(job.url, new TransientError('TIMEOUT', 'no answer within 30000 ms'));

    await assert.rejects(
      processImage(job, world.deps, jobContext({ attempt: 5, isLastAttempt: true })),
      { name: 'TransientError', code: 'TIMEOUT' },
    );

    assert.deepEqual(world.images.rows.get('42')?.failure, { code: 'TIMEOUT', message: 'no answer within 30000 ms' });
    const record = world.images.jobs.get('42');
    assert.equal(record?.state, 'failed');
    assert.equal(record?.attempts, 5);
    assert.deepEqual(record?.error, { code: 'TIMEOUT', message: 'no answer within 30000 ms' });
  });

  it('does not mark the row failed when the job is aborted on its last attempt', async () => {
    const job = jobOf();
    const controller = new AbortController();
    const abortingFetcher: ImageFetcher = {
      async fetch(_url: string, signal: AbortSignal): Promise<FetchedImage> {
        controller.abort(new Error('worker shutting down'));
        signal.throwIfAborted();
        throw new Error('the signal did not abort');
      },
    };
    const world = worldFor(job, { fetcher: abortingFetcher });

    await assert.rejects(
      processImage(job, world.deps, jobContext({ signal: controller.signal, attempt: 5, isLastAttempt: true })),
      /worker shutting down/,
    );

    assert.equal(world.images.rows.get('42')?.failure, undefined);
    assert.equal(world.store.objects.size, 0);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
