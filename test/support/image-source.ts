import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import sharp from 'sharp';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

export interface ImageSource {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `127.0.0.1:<port>`, for URL_ALLOW_HOSTS. */
  readonly hostPort: string;
  /** How many requests each path received. */
  readonly hits: Map<string, number>;
  imageUrl(name: string): string;
  close(): Promise<void>;
}

/**
 * A local HTTP image source for integration and end-to-end tests:
 * `/images/<name>.jpg` is a generated 800x600 JPEG (the same for every name),
 * `/missing.jpg` answers 404, `/page.html` is HTML served as `image/jpeg`.
 */
export async function startImageSource(): Promise<ImageSource> {
  const jpeg = await sharp({
    create: { width: 800, height: 600, channels: 3, background: { r: 40, g: 120, b: 200 } },
  })
    .composite([{ input: Buffer.from('<svg width="800" height="600"><circle cx="400" cy="300" r="200" fill="orange"/></svg>') }])
    .jpeg()
    .toBuffer();
  const hits = new Map<string, number>();
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://source').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (/^\/images\/[\w-]+\.jpg$/.test(path)) {
      response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg);
    } else if (path === '/page.html') {
      response.writeHead(200, { 'content-type': 'image/jpeg' }).end('<!doctype html><title>not an image</title>');
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  const { port } = await listenOnLoopback(server);
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    hostPort: `127.0.0.1:${port}`,
    hits,
    imageUrl: (name) => `${origin}/images/${name}.jpg`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
