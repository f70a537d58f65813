import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';

export interface LoopbackAddress {
  readonly port: number;
  /** `127.0.0.1:<port>`, as `URL_ALLOW_HOSTS` takes it. */
  readonly hostPort: string;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
}

/** Starts `server` on a free port of 127.0.0.1 (never another address) and says where. */
export async function listenOnLoopback(server: Server): Promise<LoopbackAddress> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { port, hostPort: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` };
}
