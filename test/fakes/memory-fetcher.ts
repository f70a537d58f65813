import { PermanentError } from '#functions/errors.ts';
import type { FetchedImage, ImageFetcher } from '#functions/ports.ts';

/** In-memory {@link ImageFetcher}: serves registered bytes, 404s the rest, and counts calls. */
export class MemoryFetcher implements ImageFetcher {
  readonly responses = new Map<string, FetchedImage | Error>();
  readonly requested: string[] = [];

  serve(url: string, bytes: Uint8Array, contentType = 'image/jpeg'): this {
    this.responses.set(url, { bytes, contentType });
    return this;
  }

  fail(url: string, error: Error): this {
    this.responses.set(url, error);
    return this;
  }

  async fetch(url: string, signal: AbortSignal): Promise<FetchedImage> {
    signal.throwIfAborted();
    this.requested.push(url);
    const response = this.responses.get(url);
    if (response instanceof Error) throw response;
    if (!response) throw new PermanentError('HTTP_404', `GET ${url} answered 404`);
    return response;
  }
}
