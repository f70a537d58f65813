import sharp from 'sharp';
import { errorCode, errorKind, errorSummary, TransientError } from './errors.ts';
import { hasOutputs, thumbnailKey, type Job, type OutputsJob } from './job.ts';
import { MANIFEST_CONTENT_TYPE, serializeManifest, type ManifestEntry } from './manifest.ts';
import { manifestKey, outputKey } from './output-keys.ts';
import type { OutputSpec } from './output-spec.ts';
import type { Clock, FetchedImage, ImageFetcher, ImageStore, ImagesRepo, JobContext, PutOutcome, TransformSlots } from './ports.ts';
import { renderOutputs } from './render-outputs.ts';
import { makeThumbnail, type ThumbnailOptions } from './thumbnail.ts';
import { tracedStep } from './traced-step.ts';

export interface ProcessImageDeps {
  readonly fetcher: ImageFetcher;
  readonly store: ImageStore;
  readonly images: ImagesRepo;
  readonly clock: Clock;
  /** `size` is the `thumbnail` op's; `maxInputPixels` bounds every job. */
  readonly thumbnail: ThumbnailOptions;
  /** Bounds the transforms running at once; unbounded when absent. */
  readonly transforms?: TransformSlots;
}

/** One output a run made and put; `exists` when another worker had put it first. */
export interface OutputResult extends ManifestEntry {
  readonly outcome: PutOutcome;
}

export interface ProcessImageResult {
  /** `written` when this run put anything (an output or the manifest), else `skipped`. */
  readonly outcome: 'written' | 'skipped';
  /** The thumbnail's key, or for a job with outputs its manifest's. */
  readonly key: string;
  readonly location: string;
  readonly ms: number;
  /** The thumbnail's, for the `thumbnail` op. */
  readonly bytes?: number;
  readonly width?: number;
  readonly height?: number;
  /**
   * Every output this run made (none when nothing had to be made), e.g. to
   * count outputs by format. Always set by processImage; optional only so that
   * results made by hand (fakes, tests) need not list any.
   */
  readonly outputs?: readonly OutputResult[];
}

/**
 * Makes the outputs of one job, idempotently, from at most one download.
 *
 * - `ops: ["thumbnail"]`: when `<id>.jpg` exists nothing is downloaded;
 *   otherwise download, transform and write atomically.
 * - `outputs`: `exists` is asked for every `<id>/<name>.<ext>` and for
 *   `<id>/manifest.json` first. All there: skipped, nothing downloaded. Some
 *   missing: one download, one decode, and only the missing ones are made and
 *   written (create-if-absent); then the manifest, last, describing every
 *   output (read back from the store for those made earlier).
 *
 * The job (and the row with its id) is marked processed once its outputs
 * exist, or failed (with the reason) when this failure is final: invalid or
 * permanent, or transient on the last attempt; a failure that will be retried
 * is recorded on the job alone. The error is rethrown for the adapter to ack,
 * retry or dead-letter.
 *
 * @example
 * await processImage({ id: '42', url, ops: ['thumbnail'] }, deps, { signal, log, attempt: 1, isLastAttempt: false });
 * // → { outcome: 'written', key: '42.jpg', … } and, run again, { outcome: 'skipped', … }
 */
export async function processImage(job: Job, deps: ProcessImageDeps, ctx: JobContext): Promise<ProcessImageResult> {
  const started = deps.clock.now();
  const row = { id: job.id, url: job.url };
  try {
    const result = hasOutputs(job) ? await makeOutputs(job, deps, ctx) : await makeThumbnailOutput(job, deps, ctx);
    await deps.images.markProcessed(row, { outcome: result.outcome, key: result.key, location: result.location, attempt: ctx.attempt });
    return { ...result, ms: deps.clock.now() - started };
  } catch (error) {
    const final = errorKind(error) !== 'transient' || ctx.isLastAttempt;
    // An abort (shutdown) is not the job's failure: the message goes back to the queue.
    if (!ctx.signal.aborted) {
      await markFailedQuietly(deps, row, error, ctx, final);
    }
    throw error;
  }
}

type Made = Omit<ProcessImageResult, 'ms'>;

async function makeThumbnailOutput(job: Job, deps: ProcessImageDeps, ctx: JobContext): Promise<Made> {
  const key = thumbnailKey(job.id);
  const location = deps.store.locate(key);
  if (await deps.store.exists(key)) {
    await skipStep(job.id, key);
    return { outcome: 'skipped', key, location, outputs: [] };
  }

  const image = await downloadStep(job, deps, ctx);
  const thumbnail = await inTransformSlot(deps, ctx, () =>
    tracedStep('transform', { 'imgpipe.job.id': job.id, 'imgpipe.op': 'thumbnail' }, async (span) => {
      const made = await makeThumbnail(image.bytes, deps.thumbnail);
      span.setAttributes({
        'imgpipe.input.width': made.inputWidth,
        'imgpipe.input.height': made.inputHeight,
        'imgpipe.output.width': made.width,
        'imgpipe.output.height': made.height,
      });
      return made;
    }),
  );
  const outcome = await writeStep(deps.store, job.id, key, thumbnail.data, thumbnail.contentType);
  const { width, height } = thumbnail;
  const bytes = thumbnail.data.byteLength;
  return {
    outcome: outcome === 'written' ? 'written' : 'skipped',
    key,
    location,
    bytes,
    width,
    height,
    outputs: [{ name: 'thumbnail', key, format: 'jpeg', width, height, bytes, outcome }],
  };
}

async function makeOutputs(job: OutputsJob, deps: ProcessImageDeps, ctx: JobContext): Promise<Made> {
  const key = manifestKey(job.id);
  const location = deps.store.locate(key);
  const keys = job.outputs.map((spec) => outputKey(job.id, spec));
  const [present, hasManifest] = await Promise.all([Promise.all(keys.map((k) => deps.store.exists(k))), deps.store.exists(key)]);
  const missing = job.outputs.filter((_, index) => !present[index]);
  if (missing.length === 0 && hasManifest) {
    await skipStep(job.id, key);
    return { outcome: 'skipped', key, location, outputs: [] };
  }

  const made = missing.length > 0 ? await makeMissing(job, missing, deps, ctx) : [];
  let manifestOutcome: PutOutcome = 'exists';
  if (!hasManifest) {
    const entries = await Promise.all(
      job.outputs.map((spec, index) => made.find((output) => output.name === spec.name) ?? describeStored(deps.store, keys[index]!, spec)),
    );
    const manifest = serializeManifest({ id: job.id, outputs: entries.map(manifestEntry) });
    manifestOutcome = await writeStep(deps.store, job.id, key, manifest, MANIFEST_CONTENT_TYPE);
  }
  const wrote = manifestOutcome === 'written' || made.some((output) => output.outcome === 'written');
  return { outcome: wrote ? 'written' : 'skipped', key, location, outputs: made };
}

/** One download, one decode, every missing output rendered and put. */
async function makeMissing(job: OutputsJob, missing: readonly OutputSpec[], deps: ProcessImageDeps, ctx: JobContext): Promise<OutputResult[]> {
  const image = await downloadStep(job, deps, ctx);
  const rendered = await inTransformSlot(deps, ctx, () =>
    tracedStep(
      'transform',
      { 'imgpipe.job.id': job.id, 'imgpipe.op': 'outputs', 'imgpipe.outputs.count': missing.length },
      async (span) => {
        const set = await renderOutputs(image.bytes, missing, { maxInputPixels: deps.thumbnail.maxInputPixels });
        span.setAttributes({ 'imgpipe.input.width': set.inputWidth, 'imgpipe.input.height': set.inputHeight });
        return set.outputs;
      },
    ),
  );
  ctx.signal.throwIfAborted();
  return Promise.all(
    rendered.map(async ({ spec, data, width, height, contentType }) => {
      const key = outputKey(job.id, spec);
      const outcome = await writeStep(deps.store, job.id, key, data, contentType);
      return { name: spec.name, key, format: spec.format, width, height, bytes: data.byteLength, outcome };
    }),
  );
}

/** Runs `transform` once a transform slot is free (the span starts then, so it does not count the wait). */
async function inTransformSlot<T>(deps: ProcessImageDeps, ctx: JobContext, transform: () => Promise<T>): Promise<T> {
  const release = await deps.transforms?.acquire(ctx.signal);
  try {
    return await transform();
  } finally {
    release?.();
  }
}

/** An output an earlier run made, as the manifest describes it: read back, its header decoded. */
async function describeStored(store: ImageStore, key: string, spec: OutputSpec): Promise<OutputResult> {
  const object = await store.read(key);
  // Gone since `exists` said otherwise: the retry will find it missing and make it.
  if (!object) throw new TransientError('OUTPUT_VANISHED', `${store.locate(key)} disappeared while the job ran`);
  const { width = 0, height = 0 } = await sharp(object.data).metadata();
  return { name: spec.name, key, format: spec.format, width, height, bytes: object.data.byteLength, outcome: 'exists' };
}

function manifestEntry({ name, key, format, width, height, bytes }: OutputResult): ManifestEntry {
  return { name, key, format, width, height, bytes };
}

async function skipStep(jobId: string, key: string): Promise<void> {
  await tracedStep('skip', { 'imgpipe.job.id': jobId, 'imgpipe.output.key': key }, async () => {});
}

async function downloadStep(job: Job, deps: ProcessImageDeps, ctx: JobContext): Promise<FetchedImage> {
  const image = await tracedStep('download', { 'imgpipe.job.id': job.id, 'url.full': job.url }, async (span) => {
    const fetched = await deps.fetcher.fetch(job.url, ctx.signal);
    span.setAttributes({ 'imgpipe.download.bytes': fetched.bytes.byteLength, 'imgpipe.download.content_type': fetched.contentType });
    return fetched;
  });
  ctx.signal.throwIfAborted();
  return image;
}

function writeStep(store: ImageStore, jobId: string, key: string, data: Uint8Array, contentType: string): Promise<PutOutcome> {
  return tracedStep('write', { 'imgpipe.job.id': jobId, 'imgpipe.output.key': key }, async (span) => {
    const put = await store.putIfAbsent(key, data, contentType);
    span.setAttributes({ 'imgpipe.output.bytes': data.byteLength, 'imgpipe.output.outcome': put });
    return put;
  });
}

async function markFailedQuietly(deps: ProcessImageDeps, row: { id: string; url: string }, error: unknown, ctx: JobContext, final: boolean) {
  try {
    await deps.images.markFailed(row, { code: errorCode(error), message: errorSummary(error) }, ctx.attempt, final);
  } catch (markError) {
    // The job's own error is what the adapter must act on; a row left unmarked
    // is visible as "enqueued, never ended" and can be re-enqueued on purpose.
    ctx.log.warn({ jobId: row.id, err: errorSummary(markError) }, 'could not mark the row failed');
  }
}
