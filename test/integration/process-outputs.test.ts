import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadConfig } from '#adapters/config.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { FsStore } from '#adapters/storage/fs-store.ts';
import { parseJob, type OutputsJob } from '#functions/job.ts';
import type { Manifest } from '#functions/manifest.ts';
import { processImage, type ProcessImageDeps } from '#functions/process-image.ts';
import { MemoryImagesRepo } from '#test/fakes/memory-images-repo.ts';
import { jobContext, MemoryLogger } from '#test/fakes/support.ts';
import { startImageSource, type ImageSource } from '#test/support/image-source.ts';

/** 320, 640 and 1280 wide WebP plus a 400 px JPEG, from the source's 800x600 JPEG. */
const SET = [
  { name: 'w320', width: 320, format: 'webp' },
  { name: 'w640', width: 640, format: 'webp' },
  { name: 'w1280', width: 1280, format: 'webp' },
  { name: 'sq', width: 400, height: 400, fit: 'cover', format: 'jpeg' },
];
const EXPECTED: Record<string, [string, number, number]> = {
  'w320.webp': ['webp', 320, 240],
  'w640.webp': ['webp', 640, 480],
  'w1280.webp': ['webp', 800, 600],
  'sq.jpg': ['jpeg', 400, 400],
};

describe('processImage with outputs, on the directory store and a local HTTP source', () => {
  let source: ImageSource;
  let dir: string;
  let fetcher: HttpImageFetcher;
  let deps: ProcessImageDeps;
  let job: OutputsJob;

  before(async () => {
    source = await startImageSource();
    dir = await mkdtemp(join(tmpdir(), 'imgpipe-outputs-'));
    fetcher = new HttpImageFetcher(loadConfig({ URL_ALLOW_HOSTS: source.hostPort, PICSUM_URL: 'http://127.0.0.1:9' }, 'worker').fetch);
    job = parseJob({ id: 'set', url: source.imageUrl('set'), outputs: SET }) as OutputsJob;
    deps = {
      fetcher,
      store: await FsStore.open(dir, new MemoryLogger()),
      images: new MemoryImagesRepo(),
      clock: { now: () => Date.now() },
      thumbnail: { size: 400, maxInputPixels: 100_000_000 },
    };
  });
  after(async () => {
    await fetcher?.close();
    await source?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const hits = () => source.hits.get('/images/set.jpg') ?? 0;

  it('writes 4 decodable files and a manifest that describes them, from one request', async () => {
    const result = await processImage(job, deps, jobContext());

    assert.equal(result.outcome, 'written');
    assert.equal(hits(), 1);
    assert.deepEqual((await readdir(join(dir, 'set'))).sort(), ['manifest.json', ...Object.keys(EXPECTED)].sort());
    const manifest = JSON.parse(await readFile(join(dir, 'set', 'manifest.json'), 'utf8')) as Manifest;
    for (const [file, [format, width, height]] of Object.entries(EXPECTED)) {
      const bytes = await readFile(join(dir, 'set', file));
      const metadata = await sharp(bytes).metadata();
      assert.deepEqual([metadata.format, metadata.width, metadata.height], [format, width, height], file);
      const entry = manifest.outputs.find((output) => output.key === `set/${file}`);
      assert.deepEqual(entry && [entry.format, entry.width, entry.height, entry.bytes], [format, width, height, bytes.byteLength], file);
    }
    assert.deepEqual((await readdir(dir)).filter((name) => name.endsWith('.tmp')), [], 'no temp file left');
  });

  it('sends no request when the job is delivered again', async () => {
    const result = await processImage(job, deps, jobContext({ attempt: 2 }));

    assert.equal(result.outcome, 'skipped');
    assert.equal(hits(), 1);
  });

  it('remakes only the output that was lost, with one request', async () => {
    const before = await modifiedTimes();
    await rm(join(dir, 'set', 'w640.webp'));

    const result = await processImage(job, deps, jobContext());

    assert.deepEqual(result.outputs?.map((output) => output.key), ['set/w640.webp']);
    assert.equal(hits(), 2);
    const [format, width, height] = EXPECTED['w640.webp']!;
    const metadata = await sharp(join(dir, 'set', 'w640.webp')).metadata();
    assert.deepEqual([metadata.format, metadata.width, metadata.height], [format, width, height]);
    const afterwards = await modifiedTimes();
    for (const file of ['w320.webp', 'w1280.webp', 'sq.jpg', 'manifest.json']) {
      assert.equal(afterwards.get(file), before.get(file), `${file} was not rewritten`);
    }
  });

  async function modifiedTimes(): Promise<Map<string, number>> {
    const names = await readdir(join(dir, 'set'));
    return new Map(await Promise.all(names.map(async (name) => [name, (await stat(join(dir, 'set', name))).mtimeMs] as const)));
  }
});
