import { once } from 'node:events';
import { createServer } from 'node:http';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

export interface BenchSource {
  /** `127.0.0.1:<port>`, for URL_ALLOW_HOSTS. */
  readonly hostPort: string;
  /** `http://127.0.0.1:<port>/photo/` or `/large/`: a job's URL is this plus `<n>.jpg`. */
  readonly photoBase: string;
  readonly largeBase: string;
  close(): Promise<void>;
}

/** A loopback HTTP source that answers `/photo/<n>.jpg` and `/large/<n>.jpg` from memory (n modulo the inputs). */
export async function startBenchSource(photos: readonly Buffer[], large: readonly Buffer[]): Promise<BenchSource> {
  const server = createServer((request, response) => {
    const match = /^\/(photo|large)\/(\d+)\.jpg$/.exec(request.url ?? '');
    if (!match) {
      response.writeHead(404).end();
      return;
    }
    const images = match[1] === 'photo' ? photos : large;
    const body = images[Number(match[2]) % images.length]!;
    response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
  });
  server.keepAliveTimeout = 60_000;
  const { port } = await listenOnLoopback(server);
  const origin = `http://127.0.0.1:${port}`;
  return {
    hostPort: `127.0.0.1:${port}`,
    photoBase: `${origin}/photo/`,
    largeBase: `${origin}/large/`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
