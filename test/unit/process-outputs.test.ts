import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import sharp from 'sharp';
import { parseJob, type OutputsJob } from '#functions/job.ts';
import type { Manifest } from '#functions/manifest.ts';
import { readManifest } from '#functions/manifest.ts';
import { processImage, type ProcessImageDeps } from '#functions/process-image.ts';
import { MemoryFetcher } from '#test/fakes/memory-fetcher.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { MemoryStore } from '#test/fakes/memory-store.ts';
import { FakeClock, jobContext } from '#test/fakes/support.ts';
import {
  animatedGif,
  firstPixel,
  jpegInColourProfile,
  jpegOf,
  jpegWithCopyright,
  jpegWithOrientation,
  pngWithAlpha,
} from '#test/support/image-factory.ts';

const URL = 'https://images.test/photos/42.jpg';

/** The set a site publishes for a srcset: three WebP widths and a JPEG square. */
const SRCSET = [
  { name: 'w320', width: 320, format: 'webp' },
  { name: 'w640', width: 640, format: 'webp' },
  { name: 'w1280', width: 1280, format: 'webp' },
  { name: 'sq', width: 400, height: 400, fit: 'cover', position: 'attention', format: 'jpeg' },
];

function outputsJob(outputs: readonly object[], id = '42'): OutputsJob {
  return parseJob({ id, url: URL, outputs }) as OutputsJob;
}

function worldFor(job: OutputsJob, maxInputPixels = 100_000_000) {
  const fetcher = new MemoryFetcher();
  const store = new MemoryStore();
  const images = new MemoryImagesRepo([{ id: job.id, url: job.url }]);
  const deps: ProcessImageDeps = { fetcher, store, images, clock: new FakeClock(0), thumbnail: { size: 400, maxInputPixels } };
  return { deps, fetcher, store, images };
}

async function decoded(store: MemoryStore, key: string) {
  const object = await store.read(key);
  assert.ok(object, `${key} was written`);
  return { object, metadata: await sharp(object.data).metadata() };
}

describe('processImage with outputs: the set it writes', () => {
  it('writes 4 valid files and a manifest with their dimensions, formats and sizes', async () => {
    const job = outputsJob(SRCSET);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(1024, 768));

    const result = await processImage(job, world.deps, jobContext());

    const expected = [
      { key: '42/w320.webp', format: 'webp', size: [320, 240], type: 'image/webp' },
      { key: '42/w640.webp', format: 'webp', size: [640, 480], type: 'image/webp' },
      { key: '42/w1280.webp', format: 'webp', size: [1024, 768], type: 'image/webp' },
      { key: '42/sq.jpg', format: 'jpeg', size: [400, 400], type: 'image/jpeg' },
    ] as const;
    for (const file of expected) {
      const { object, metadata } = await decoded(world.store, file.key);
      assert.equal(metadata.format, file.format, file.key);
      assert.deepEqual([metadata.width, metadata.height], file.size, file.key);
      assert.equal(object.contentType, file.type);
    }
    const manifest = await readManifest(world.store, '42');
    assert.deepEqual(manifest, {
      id: '42',
      outputs: await Promise.all(
        expected.map(async (file, index) => ({
          name: SRCSET[index]!.name,
          key: file.key,
          format: file.format,
          width: file.size[0],
          height: file.size[1],
          bytes: (await world.store.read(file.key))!.data.byteLength,
        })),
      ),
    } satisfies Manifest);
    assert.equal((await world.store.read('42/manifest.json'))?.contentType, 'application/json');
    assert.equal(result.outcome, 'written');
    assert.equal(result.key, '42/manifest.json');
    assert.deepEqual(
      result.outputs?.map(({ name, format, outcome }) => [name, format, outcome]),
      [['w320', 'webp', 'written'], ['w640', 'webp', 'written'], ['w1280', 'webp', 'written'], ['sq', 'jpeg', 'written']],
    );
    assert.equal(world.images.rows.get('42')?.processed, true);
    assert.equal(world.fetcher.requested.length, 1);
  });

  it('makes AVIF and PNG, and a lossy PNG when a quality is given', async () => {
    const job = outputsJob([
      { name: 'a', width: 200, format: 'avif' },
      { name: 'p', width: 200, format: 'png' },
      { name: 'q', width: 200, format: 'png', quality: 60 },
    ]);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(400, 300));

    await processImage(job, world.deps, jobContext());

    assert.equal((await decoded(world.store, '42/a.avif')).metadata.format, 'heif');
    assert.equal((await decoded(world.store, '42/a.avif')).object.contentType, 'image/avif');
    const lossless = await decoded(world.store, '42/p.png');
    const palette = await decoded(world.store, '42/q.png');
    assert.deepEqual([lossless.metadata.format, lossless.metadata.width, lossless.metadata.height], ['png', 200, 150]);
    assert.equal(lossless.metadata.isPalette, false);
    assert.equal(palette.metadata.isPalette, true, 'a quality makes a palette PNG');
  });

  it('fits inside, covers and contains as asked, with the contain bars in the background colour', async () => {
    const job = outputsJob([
      { name: 'in', width: 300, height: 300, format: 'png' },
      { name: 'cover', width: 300, height: 300, fit: 'cover', position: 'north', format: 'png' },
      { name: 'box', width: 300, height: 300, fit: 'contain', background: '#00ff00', format: 'png' },
    ]);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(600, 300));

    await processImage(job, world.deps, jobContext());

    assert.deepEqual(await sides(world.store, '42/in.png'), [300, 150]);
    assert.deepEqual(await sides(world.store, '42/cover.png'), [300, 300]);
    assert.deepEqual(await sides(world.store, '42/box.png'), [300, 300]);
    assert.deepEqual(await firstPixel((await world.store.read('42/box.png'))!.data), [0, 255, 0]);
  });

  it('enlarges only when withoutEnlargement is false', async () => {
    const job = outputsJob([
      { name: 'kept', width: 500, format: 'jpeg' },
      { name: 'grown', width: 500, format: 'jpeg', withoutEnlargement: false },
    ]);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(200, 100));

    await processImage(job, world.deps, jobContext());

    assert.deepEqual(await sides(world.store, '42/kept.jpg'), [200, 100]);
    assert.deepEqual(await sides(world.store, '42/grown.jpg'), [500, 250]);
  });

  it('applies the EXIF orientation, strips metadata by default and keeps it with strip: false', async () => {
    const job = outputsJob([
      { name: 'stripped', width: 100, format: 'jpeg' },
      { name: 'kept', width: 100, format: 'jpeg', strip: false },
    ]);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegWithCopyright(600, 300, 'Jane Doe'));
    const rotated = outputsJob([{ name: 'r', height: 200, format: 'webp' }], '43');
    world.fetcher.serve(`${URL}?rotated`, await jpegWithOrientation(600, 300, 6));

    await processImage(job, world.deps, jobContext());
    await processImage({ ...rotated, url: `${URL}?rotated` }, world.deps, jobContext());

    const stripped = (await decoded(world.store, '42/stripped.jpg')).metadata;
    const kept = (await decoded(world.store, '42/kept.jpg')).metadata;
    assert.equal(stripped.exif, undefined);
    assert.match(kept.exif?.toString('latin1') ?? '', /Jane Doe/);
    const turned = (await decoded(world.store, '43/r.webp')).metadata;
    assert.deepEqual([turned.width, turned.height], [100, 200]);
  });

  it('converts a Display P3 input to sRGB colours, and flattens transparency to white in a JPEG', async () => {
    const intended = [200, 80, 60] as const;
    const job = outputsJob([{ name: 'c', width: 32, format: 'webp', quality: 100 }]);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegInColourProfile(64, 48, 'p3', intended));
    const alphaJob = outputsJob([{ name: 'j', width: 100, format: 'jpeg' }, { name: 'w', width: 100, format: 'webp' }], '44');
    world.fetcher.serve(`${URL}?alpha`, await pngWithAlpha(100, 50), 'image/png');

    await processImage(job, world.deps, jobContext());
    await processImage({ ...alphaJob, url: `${URL}?alpha` }, world.deps, jobContext());

    const pixel = await firstPixel((await world.store.read('42/c.webp'))!.data);
    pixel.forEach((value, channel) => assert.ok(Math.abs(value - intended[channel]!) <= 6, `channel ${channel}: ${value}`));
    assert.deepEqual(await firstPixel((await world.store.read('44/j.jpg'))!.data), [255, 255, 255]);
    assert.equal((await decoded(world.store, '44/w.webp')).metadata.hasAlpha, true);
  });

  it('takes the first frame of an animated input, unless a WebP output asks for animated', async () => {
    const job = outputsJob([
      { name: 'still', width: 32, format: 'webp' },
      { name: 'moving', width: 32, format: 'webp', animated: true },
    ]);
    const world = worldFor(job);
    world.fetcher.serve(URL, await animatedGif(64, 48, 3), 'image/gif');

    const result = await processImage(job, world.deps, jobContext());

    const still = (await decoded(world.store, '42/still.webp')).metadata;
    const moving = (await decoded(world.store, '42/moving.webp')).metadata;
    assert.equal(still.pages ?? 1, 1);
    assert.deepEqual([moving.pages, moving.width, moving.pageHeight ?? moving.height], [3, 32, 24]);
    assert.deepEqual(result.outputs?.map(({ width, height }) => [width, height]), [[32, 24], [32, 24]]);
  });

  it('counts the pixels of every frame against the limit', async () => {
    const job = outputsJob([{ name: 'still', width: 32, format: 'webp' }]);
    // One frame of 64x48 is 3072 pixels, under the limit; three frames are 9216, over it.
    const world = worldFor(job, 5000);
    world.fetcher.serve(URL, await animatedGif(64, 48, 3), 'image/gif');

    await assert.rejects(processImage(job, world.deps, jobContext()), { name: 'PermanentError', code: 'TOO_MANY_PIXELS' });

    assert.equal(world.store.objects.size, 0);
    assert.equal(world.images.rows.get('42')?.failure?.code, 'TOO_MANY_PIXELS');
  });
});

describe('processImage with outputs: one download, only what is missing', () => {
  it('downloads nothing for a redelivered job: every output and the manifest exist', async () => {
    const job = outputsJob(SRCSET);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(1024, 768));
    await processImage(job, world.deps, jobContext());
    const before = new Map(world.store.objects);

    const again = await processImage(job, world.deps, jobContext({ attempt: 2 }));

    assert.equal(again.outcome, 'skipped');
    assert.deepEqual(again.outputs, []);
    assert.equal(world.fetcher.requested.length, 1, 'only the first run downloaded');
    assert.deepEqual(world.store.objects, before);
  });

  it('remakes only the output that was lost, from one download, and leaves the others untouched', async () => {
    const job = outputsJob(SRCSET);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(1024, 768));
    await processImage(job, world.deps, jobContext());
    const lost = await world.store.read('42/w640.webp');
    const others = ['42/w320.webp', '42/w1280.webp', '42/sq.jpg', '42/manifest.json'].map((key) => world.store.objects.get(key));
    world.store.objects.delete('42/w640.webp');

    const again = await processImage(job, world.deps, jobContext());

    assert.deepEqual(again.outputs?.map(({ key, outcome }) => [key, outcome]), [['42/w640.webp', 'written']]);
    assert.equal(world.fetcher.requested.length, 2);
    assert.deepEqual((await world.store.read('42/w640.webp'))?.data, lost?.data);
    const after = ['42/w320.webp', '42/w1280.webp', '42/sq.jpg', '42/manifest.json'].map((key) => world.store.objects.get(key));
    after.forEach((object, index) => assert.equal(object, others[index], 'the same object, not a rewrite'));
  });

  it('writes a missing manifest from the stored outputs without downloading', async () => {
    const job = outputsJob(SRCSET);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(1024, 768));
    await processImage(job, world.deps, jobContext());
    const manifest = await readManifest(world.store, '42');
    world.store.objects.delete('42/manifest.json');

    const again = await processImage(job, world.deps, jobContext());

    assert.equal(again.outcome, 'written');
    assert.equal(world.fetcher.requested.length, 1);
    assert.deepEqual(await readManifest(world.store, '42'), manifest);
  });
});

describe('processImage with outputs: spans', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
  });
  after(async () => {
    trace.disable();
    context.disable();
    await provider.shutdown();
  });

  it('gives the transform span one render child per output, with its format and size', async () => {
    const job = outputsJob(SRCSET);
    const world = worldFor(job);
    world.fetcher.serve(URL, await jpegOf(1024, 768));

    await processImage(job, world.deps, jobContext());

    const spans = exporter.getFinishedSpans();
    const transform = spans.find((span) => span.name === 'transform');
    assert.ok(transform);
    assert.equal(transform.attributes['imgpipe.outputs.count'], 4);
    const renders = spans.filter((span) => span.name === 'render');
    assert.equal(renders.length, 4);
    for (const render of renders) {
      assert.equal(render.parentSpanContext?.spanId, transform.spanContext().spanId);
    }
    assert.deepEqual(
      renders.map((span) => [span.attributes['imgpipe.output.name'], span.attributes['imgpipe.output.format'], span.attributes['imgpipe.output.width']]).sort(),
      [['sq', 'jpeg', 400], ['w1280', 'webp', 1024], ['w320', 'webp', 320], ['w640', 'webp', 640]],
    );
    assert.equal(spans.filter((span) => span.name === 'write').length, 5, 'four outputs and the manifest');
  });
});

async function sides(store: MemoryStore, key: string): Promise<[number | undefined, number | undefined]> {
  const { metadata } = await decoded(store, key);
  return [metadata.width, metadata.height];
}
