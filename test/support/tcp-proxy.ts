import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Destroys every open connection and stops listening: clients get resets, then refusals. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `127.0.0.1:<targetPort>`, for making a service unreachable and reachable again. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const newServer = (): Server =>
    createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  const listen = async (port: number): Promise<Server> => {
    const server = newServer();
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return server;
  };

  let server: Server | undefined = await listen(0);
  const { port } = server.address() as AddressInfo;
  const stop = async () => {
    const stopping = server;
    server = undefined;
    if (!stopping) return;
    const closed = once(stopping, 'close');
    stopping.close();
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    port,
    stop,
    async resume() {
      server ??= await listen(port);
    },
    close: stop,
  };
}
