import { once } from 'node:events';
import { createServer } from 'node:net';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

/** A TCP port on 127.0.0.1 that was free a moment ago, for a child process to listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  const { port } = await listenOnLoopback(server);
  server.close();
  await once(server, 'close');
  return port;
}
