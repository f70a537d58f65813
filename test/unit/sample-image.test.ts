import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { InvalidInputError } from '#functions/errors.ts';
import { renderSampleImage, SAMPLE_MAX_SIDE } from '#adapters/samples/sample-image.ts';

describe('renderSampleImage', () => {
  it('renders the same bytes for the same arguments', async () => {
    const first = await renderSampleImage('determinism', 320, 200);
    await renderSampleImage('determinism', 200, 320);
    const again = await renderSampleImage('determinism', 320, 200);

    assert.ok(first.equals(again));
  });

  it('renders the same bytes again once the cache has let the first ones go', async () => {
    // More distinct images than the cache holds (64).
    const seeds = Array.from({ length: 70 }, (_, index) => `evict-${index}`);
    const first = await renderSampleImage('stable-after-eviction', 96, 64);
    for (const seed of seeds) await renderSampleImage(seed, 96, 64);

    const rendered = await renderSampleImage('stable-after-eviction', 96, 64);

    assert.ok(first.equals(rendered));
    assert.notEqual(first, rendered, 'the second render came from a fresh encode, not the cache');
  });

  for (const [width, height] of [
    [1024, 768],
    [768, 1024],
    [SAMPLE_MAX_SIDE, 16],
    [1, 1],
  ] as const) {
    it(`is a ${width}x${height} sRGB JPEG when asked for ${width}x${height}`, async () => {
      const jpeg = await renderSampleImage('dimensions', width, height);

      const metadata = await sharp(jpeg).metadata();
      assert.equal(metadata.format, 'jpeg');
      assert.deepEqual([metadata.width, metadata.height, metadata.channels], [width, height, 3]);
    });
  }

  it('looks like a photo, not a flat colour', async () => {
    const jpeg = await renderSampleImage('texture', 400, 300);

    const stats = await sharp(jpeg).stats();
    for (const channel of stats.channels) {
      assert.ok(channel.stdev > 10, `channel stdev ${channel.stdev.toFixed(1)} is too flat`);
    }
  });

  it('renders different images for different seeds', async () => {
    const [a, b] = await Promise.all([renderSampleImage('one', 200, 150), renderSampleImage('two', 200, 150)]);

    const difference = await meanAbsoluteDifference(a, b);
    assert.ok(difference > 5, `mean difference ${difference.toFixed(1)} is too small`);
  });

  it('shows the same scene at different sizes, like picsum', async () => {
    const large = await renderSampleImage('scene', 800, 600);
    const small = await renderSampleImage('scene', 200, 150);
    const other = await renderSampleImage('other-scene', 200, 150);

    const downscaled = await sharp(large).resize(200, 150).jpeg().toBuffer();
    const sameScene = await meanAbsoluteDifference(downscaled, small);
    const otherScene = await meanAbsoluteDifference(downscaled, other);
    assert.ok(sameScene < otherScene / 2, `same scene differs by ${sameScene.toFixed(1)}, another by ${otherScene.toFixed(1)}`);
  });

  for (const [seed, width, height, field] of [
    ['ok', 0, 10, 'width'],
    ['ok', 10, SAMPLE_MAX_SIDE + 1, 'height'],
    ['ok', 10.5, 10, 'width'],
    ['../x', 10, 10, 'seed'],
    ['', 10, 10, 'seed'],
  ] as const) {
    it(`refuses ${JSON.stringify(seed)} ${width}x${height}, naming ${field}`, async () => {
      await assert.rejects(
        renderSampleImage(seed, width, height),
        (error: unknown) => error instanceof InvalidInputError && error.field === field,
      );
    });
  }

  it('renders 1024x768 quickly (timings printed, not asserted: shared machines vary)', async () => {
    const timings: number[] = [];
    for (let run = 0; run < 10; run += 1) {
      const started = performance.now();
      await renderSampleImage(`speed-${run}`, 1024, 768);
      timings.push(performance.now() - started);
    }
    const started = performance.now();
    const again = await renderSampleImage(`speed-9`, 1024, 768);
    const cached = performance.now() - started;

    const sorted = [...timings].sort((a, b) => a - b);
    console.log(
      `# renderSampleImage 1024x768: first ${timings[0]!.toFixed(1)} ms, median ${sorted[5]!.toFixed(1)} ms, ` +
        `max ${sorted[9]!.toFixed(1)} ms, cached ${cached.toFixed(2)} ms`,
    );
    assert.equal(again, await renderSampleImage('speed-9', 1024, 768), 'a recent image is served from the cache');
  });
});

async function meanAbsoluteDifference(a: Buffer, b: Buffer): Promise<number> {
  const [left, right] = await Promise.all([a, b].map((jpeg) => sharp(jpeg).raw().toBuffer()));
  assert.equal(left!.length, right!.length);
  let sum = 0;
  for (let index = 0; index < left!.length; index += 1) sum += Math.abs(left![index]! - right![index]!);
  return sum / left!.length;
}
