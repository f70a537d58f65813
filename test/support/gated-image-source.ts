import { EventEmitter, once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { jpegOf } from './image-factory.ts';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

export interface GatedImageSource {
  /** `127.0.0.1:<port>`, for URL_ALLOW_HOSTS. */
  readonly hostPort: string;
  /** How many requests each path received. */
  readonly hits: Map<string, number>;
  /** `/images/<name>.jpg`: answered at once. */
  imageUrl(name: string): string;
  /** `/held/<name>.jpg`: answered only once {@link open} is called. */
  heldUrl(name: string): string;
  /** Resolves once `count` requests are waiting at the gate; rejects after `timeoutMs`. */
  waitForHeld(count: number, timeoutMs?: number): Promise<void>;
  /** Answers every held request, and every later one at once. */
  open(): void;
  close(): Promise<void>;
}

/**
 * A local HTTP image source for fault tests: a tiny JPEG (64x48) for every
 * image path, so hundreds of jobs run in seconds, and a gate that keeps chosen
 * downloads in flight for as long as a test needs.
 */
export async function startGatedImageSource(): Promise<GatedImageSource> {
  const jpeg = await jpegOf(64, 48);
  const hits = new Map<string, number>();
  const held: ServerResponse[] = [];
  const events = new EventEmitter();
  let opened = false;
  const answer = (response: ServerResponse) =>
    response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg);

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://source').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (/^\/images\/[\w-]+\.jpg$/.test(path) || (opened && /^\/held\/[\w-]+\.jpg$/.test(path))) {
      answer(response);
    } else if (/^\/held\/[\w-]+\.jpg$/.test(path)) {
      held.push(response);
      response.once('close', () => {
        const at = held.indexOf(response);
        if (at >= 0) held.splice(at, 1);
      });
      events.emit('held');
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  const { port } = await listenOnLoopback(server);
  const origin = `http://127.0.0.1:${port}`;
  return {
    hostPort: `127.0.0.1:${port}`,
    hits,
    imageUrl: (name) => `${origin}/images/${name}.jpg`,
    heldUrl: (name) => `${origin}/held/${name}.jpg`,
    async waitForHeld(count, timeoutMs = 60_000) {
      const signal = AbortSignal.timeout(timeoutMs);
      while (held.length < count) await once(events, 'held', { signal });
    },
    open() {
      opened = true;
      for (const response of held.splice(0)) answer(response);
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
