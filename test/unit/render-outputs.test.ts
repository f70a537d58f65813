import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { parseJob, type OutputsJob } from '#functions/job.ts';
import { renderOutputs, type RenderOptions } from '#functions/render-outputs.ts';
import { jpegOf } from '#test/support/image-factory.ts';

const SPECS = (
  parseJob({
    id: 'r',
    url: 'https://images.test/r.jpg',
    outputs: [
      { name: 'w200', width: 200, format: 'webp' },
      { name: 'sq', width: 120, height: 120, fit: 'cover', format: 'jpeg' },
      { name: 'box', width: 150, height: 150, fit: 'contain', format: 'png' },
    ],
  }) as OutputsJob
).outputs;

async function made(options: Partial<RenderOptions>) {
  const input = await jpegOf(640, 480);
  const { outputs } = await renderOutputs(input, SPECS, { maxInputPixels: 1e8, ...options });
  return Promise.all(
    outputs.map(async ({ spec, data, width, height }) => {
      const metadata = await sharp(data).metadata();
      return { name: spec.name, format: metadata.format, width, height, decoded: [metadata.width, metadata.height] };
    }),
  );
}

describe('renderOutputs', () => {
  it('makes the same outputs whether they share one decode by clone(), by separate objects, or stream from the input', async () => {
    const separate = await made({ sharing: 'separate' });
    const cloned = await made({ sharing: 'clone' });
    const streamed = await made({ sharedDecodeMaxPixels: 1 });

    assert.deepEqual(separate, [
      { name: 'w200', format: 'webp', width: 200, height: 150, decoded: [200, 150] },
      { name: 'sq', format: 'jpeg', width: 120, height: 120, decoded: [120, 120] },
      { name: 'box', format: 'png', width: 150, height: 150, decoded: [150, 150] },
    ]);
    assert.deepEqual(cloned, separate);
    assert.deepEqual(streamed, separate);
  });
});
