import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import type { Config } from '#adapters/config.ts';
import { ImgpipeError, PermanentError, TransientError } from '#functions/errors.ts';
import type { FetchedImage, ImageFetcher } from '#functions/ports.ts';
import { HostSlots } from './host-slots.ts';
import { retryAfterHeaderMs } from './retry-after.ts';
import { sniffImageType } from './sniff-image-type.ts';
import { dnsError, UrlPolicy, type Resolver } from './url-policy.ts';

const PICSUM_ORIGIN = 'https://picsum.photos';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface HttpImageFetcherOverrides {
  /** Name resolution for the URL policy; tests pass results they control. */
  readonly resolve?: Resolver;
  /**
   * The range of an address, as `classifyAddress` names it (the default).
   * Tests count one loopback address as `public` to reach a local server
   * through the restricted path; nothing else should pass this.
   */
  readonly classify?: (address: string) => string;
}

/**
 * {@link ImageFetcher} over undici's `request` (a Node stream body: about half
 * the CPU per download of its `fetch`), within the outbound URL policy.
 *
 * - when the policy restricts a URL (not allow-listed, `URL_ALLOW_PRIVATE=false`),
 *   the connection resolves the host through the policy's checked lookup, so it
 *   can only reach an address the policy accepted (no DNS rebinding between the
 *   check and the connect);
 * - URLs on `https://picsum.photos` are fetched from `PICSUM_URL` (same path and query);
 * - at most `FETCH_MAX_PER_HOST` downloads run at once per host the job names
 *   (its slot is held through redirects); the others wait for a slot, before
 *   their deadline starts, and leave the line when the caller aborts;
 * - one deadline (`FETCH_TIMEOUT_MS`) covers headers and body: `TransientError('TIMEOUT')`;
 *   the caller's abort propagates as the caller's abort reason;
 * - redirects are followed by hand, at most `FETCH_MAX_REDIRECTS`, each hop
 *   checked by the {@link UrlPolicy} before any connection is made;
 * - the body is counted while it streams and refused past `FETCH_MAX_BYTES`;
 * - the type comes from the bytes' magic number, never from `Content-Type`.
 *
 * Status mapping: 408, 429 and 5xx are transient (`HTTP_<status>`), every other
 * non-2xx is permanent (`HTTP_<status>`). A `Retry-After` on 429 or 503 is
 * carried as the error's `retryAfterMs`. Connection failures are
 * `TransientError('NETWORK')`; an unknown host is `TransientError('DNS_NOT_FOUND')`.
 *
 * @example
 * const fetcher = new HttpImageFetcher(config.fetch);
 * const { bytes, contentType } = await fetcher.fetch('https://picsum.photos/seed/1/1024/768', signal);
 * await fetcher.close(); // at shutdown, after the last fetch
 */
export class HttpImageFetcher implements ImageFetcher {
  private readonly policy: UrlPolicy;
  /** Connections for restricted URLs: every address comes from the policy's checked lookup. */
  private readonly checked: Agent;
  /** Connections for allow-listed hosts, or any host when private addresses are allowed. */
  private readonly unchecked: Agent;
  private readonly slots: HostSlots;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: Config['fetch'], overrides: HttpImageFetcherOverrides = {}) {
    this.policy = new UrlPolicy({
      allowPrivate: options.allowPrivate,
      allowHosts: options.allowHosts,
      resolve: overrides.resolve,
      classify: overrides.classify,
    });
    this.checked = new Agent({ connect: { lookup: this.policy.lookup } });
    this.unchecked = new Agent();
    this.slots = new HostSlots(options.maxPerHost);
  }

  /** Closes the pooled connections, after the requests in flight end. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= Promise.all([this.checked.close(), this.unchecked.close()]).then(() => undefined);
    return this.closing;
  }

  async fetch(url: string, signal: AbortSignal): Promise<FetchedImage> {
    signal.throwIfAborted();
    const target = this.rewrite(parseUrl(url));
    const release = await this.slots.acquire(target.hostname, signal);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.options.timeoutMs);
    try {
      return await this.download(target, AbortSignal.any([signal, deadline.signal]));
    } catch (error) {
      signal.throwIfAborted();
      if (deadline.signal.aborted) {
        throw new TransientError('TIMEOUT', `GET ${target.host} took longer than ${this.options.timeoutMs} ms`, { cause: error });
      }
      throw classify(error, target);
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  private async download(first: URL, signal: AbortSignal): Promise<FetchedImage> {
    let current = first;
    for (let redirects = 0; ; redirects += 1) {
      await untilAborted(this.policy.check(current), signal);
      const dispatcher = this.policy.isRestricted(current) ? this.checked : this.unchecked;
      const response = await request(current, { method: 'GET', signal, headers: { accept: 'image/*' }, dispatcher });

      if (REDIRECT_STATUSES.has(response.statusCode)) {
        await discard(response);
        const location = header(response.headers, 'location');
        if (location === undefined) throw new PermanentError(`HTTP_${response.statusCode}`, `GET ${describe(current)} redirected nowhere`);
        if (redirects >= this.options.maxRedirects) {
          throw new PermanentError('TOO_MANY_REDIRECTS', `GET ${describe(first)} redirected more than ${this.options.maxRedirects} times`);
        }
        current = this.rewrite(parseUrl(location, current));
        continue;
      }
      if (response.statusCode < 200 || response.statusCode > 299) {
        await discard(response);
        throw statusError(response, current);
      }
      const bytes = await readCapped(response, this.options.maxBytes, current);
      const contentType = sniffImageType(bytes);
      if (contentType === undefined) {
        throw new PermanentError('NOT_AN_IMAGE', `GET ${describe(current)} answered ${bytes.byteLength} bytes that are no known image format`);
      }
      return { bytes, contentType };
    }
  }

  /** `https://picsum.photos/<path>` → `PICSUM_URL/<path>`, so picsum URLs can be served offline. */
  private rewrite(url: URL): URL {
    if (url.origin !== PICSUM_ORIGIN || this.options.picsumUrl === PICSUM_ORIGIN) return url;
    return new URL(`${this.options.picsumUrl}${url.pathname}${url.search}`);
  }
}

function parseUrl(value: string, base?: URL): URL {
  try {
    return new URL(value, base);
  } catch (error) {
    throw new PermanentError('URL_REFUSED', base ? `a redirect from ${base.host} has an invalid Location` : 'the URL is not valid', { cause: error });
  }
}

/** Host and path: enough to find the request in logs, without a query that may hold tokens. */
function describe(url: URL): string {
  return `${url.host}${url.pathname}`;
}

type ResponseData = Dispatcher.ResponseData;

/** A header's value; the first, when the server sent it twice. */
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function statusError({ statusCode: status, headers }: ResponseData, url: URL): ImgpipeError {
  const message = `GET ${describe(url)} answered ${status}`;
  if (status === 429 || status === 503) {
    return new TransientError(`HTTP_${status}`, message, { retryAfterMs: retryAfterHeaderMs(header(headers, 'retry-after') ?? null) });
  }
  if (status === 408 || status >= 500) return new TransientError(`HTTP_${status}`, message);
  return new PermanentError(`HTTP_${status}`, message);
}

/** The body, counted while it streams; refused as soon as it passes `maxBytes`. */
async function readCapped(response: ResponseData, maxBytes: number, url: URL): Promise<Uint8Array> {
  const tooLarge = () => new PermanentError('TOO_LARGE', `GET ${describe(url)} is larger than ${maxBytes} bytes`);
  const declared = Number(header(response.headers, 'content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await discard(response);
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      response.body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Releases a body we will not read, so its connection can be reused or closed. */
async function discard(response: ResponseData): Promise<void> {
  await response.body.dump().catch(() => {});
}

/** Anything that is not already one of ours is a failure to talk to the server. */
function classify(error: unknown, url: URL): ImgpipeError {
  if (error instanceof ImgpipeError) return error;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const code = errorCodeOf(cause) ?? errorCodeOf(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return dnsError(url.hostname, cause ?? error);
  return new TransientError('NETWORK', `GET ${url.host} failed: ${code ?? 'connection error'}`, { cause: error });
}

function errorCodeOf(error: unknown): string | undefined {
  if (error instanceof AggregateError) return errorCodeOf(error.errors[0]);
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `promise`, or the signal's reason as soon as it fires (a lookup takes no signal). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
