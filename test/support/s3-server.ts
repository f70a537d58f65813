import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface S3Server {
  /** `http://127.0.0.1:<port>`, for path-style clients. */
  readonly endpoint: string;
  /** The credentials s3rver's default account accepts. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * Stops answering: new connections are refused and idle ones closed, while
   * requests in flight finish (s3rver writes objects in place, so a cut PUT
   * would leave a partial object, which real S3 never shows). The objects stay.
   */
  stop(): Promise<void>;
  /** Serves again on the same port, with the same objects. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real S3-protocol server (s3rver) on 127.0.0.1 and a random port, keeping its
 * buckets in a fresh temp directory that `close()` removes.
 *
 * s3rver ignores `If-None-Match` on PUT (it overwrites), and writes an object
 * in place rather than atomically: stores tested on it rely on their HEAD-first
 * check, and concurrent writers of one key may both succeed.
 */
export async function startS3Server(): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'imgpipe-s3-'));
  const serve = async (port: number) => {
    const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory });
    return { server, address: await server.run() };
  };
  let running: S3rver | undefined;
  const first = await serve(0);
  running = first.server;
  const { port } = first.address;
  const stop = async ({ cut = false } = {}) => {
    const server = running;
    running = undefined;
    if (!server) return;
    const closing = server.close();
    if (cut) server.httpServer?.closeAllConnections();
    await closing;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    stop: () => stop(),
    async restart() {
      running ??= (await serve(port)).server;
    },
    async close() {
      await stop({ cut: true });
      await rm(directory, { recursive: true, force: true });
    },
  };
}
