import { errorCode, errorKind, errorSummary } from './errors.ts';
import { thumbnailKey, type Job } from './job.ts';
import type { Clock, ImageFetcher, ImageStore, ImagesRepo, JobContext } from './ports.ts';
import { makeThumbnail, type ThumbnailOptions } from './thumbnail.ts';
import { tracedStep } from './traced-step.ts';

export interface ProcessImageDeps {
  readonly fetcher: ImageFetcher;
  readonly store: ImageStore;
  readonly images: ImagesRepo;
  readonly clock: Clock;
  readonly thumbnail: ThumbnailOptions;
}

export interface ProcessImageResult {
  readonly outcome: 'written' | 'skipped';
  readonly key: string;
  readonly location: string;
  readonly ms: number;
  readonly bytes?: number;
  readonly width?: number;
  readonly height?: number;
}

/**
 * Makes the thumbnail of one job, idempotently: when `<id>.jpg` already exists
 * nothing is downloaded; otherwise download, transform and write atomically.
 * The job (and the row with its id) is marked processed once its output
 * exists, or failed (with the reason) when this failure is final: invalid or
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
  const key = thumbnailKey(job.id);
  const location = deps.store.locate(key);
  const row = { id: job.id, url: job.url };
  try {
    const exists = await deps.store.exists(key);
    if (exists) {
      await tracedStep('skip', { 'imgpipe.job.id': job.id, 'imgpipe.output.key': key }, async () => {});
      await deps.images.markProcessed(row, { outcome: 'skipped', key, location, attempt: ctx.attempt });
      return { outcome: 'skipped', key, location, ms: deps.clock.now() - started };
    }

    const image = await tracedStep('download', { 'imgpipe.job.id': job.id, 'url.full': job.url }, async (span) => {
      const fetched = await deps.fetcher.fetch(job.url, ctx.signal);
      span.setAttributes({ 'imgpipe.download.bytes': fetched.bytes.byteLength, 'imgpipe.download.content_type': fetched.contentType });
      return fetched;
    });
    ctx.signal.throwIfAborted();

    const thumbnail = await tracedStep('transform', { 'imgpipe.job.id': job.id, 'imgpipe.op': 'thumbnail' }, async (span) => {
      const made = await makeThumbnail(image.bytes, deps.thumbnail);
      span.setAttributes({
        'imgpipe.input.width': made.inputWidth,
        'imgpipe.input.height': made.inputHeight,
        'imgpipe.output.width': made.width,
        'imgpipe.output.height': made.height,
      });
      return made;
    });

    const outcome = await tracedStep('write', { 'imgpipe.job.id': job.id, 'imgpipe.output.key': key }, async (span) => {
      const put = await deps.store.putIfAbsent(key, thumbnail.data, thumbnail.contentType);
      span.setAttributes({ 'imgpipe.output.bytes': thumbnail.data.byteLength, 'imgpipe.output.outcome': put });
      return put;
    });
    await deps.images.markProcessed(row, { outcome: outcome === 'written' ? 'written' : 'skipped', key, location, attempt: ctx.attempt });
    return {
      outcome: outcome === 'written' ? 'written' : 'skipped',
      key,
      location,
      ms: deps.clock.now() - started,
      bytes: thumbnail.data.byteLength,
      width: thumbnail.width,
      height: thumbnail.height,
    };
  } catch (error) {
    const final = errorKind(error) !== 'transient' || ctx.isLastAttempt;
    // An abort (shutdown) is not the job's failure: the message goes back to the queue.
    if (!ctx.signal.aborted) {
      await markFailedQuietly(deps, row, error, ctx, final);
    }
    throw error;
  }
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
