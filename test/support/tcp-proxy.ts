import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from './free-port.ts';

export interface TcpProxy {
  /** The loopback port clients connect to; fixed, whether the proxy listens or not. */
  readonly port: number;
  /** Listens and forwards every connection to the target. */
  start(): Promise<void>;
  /** Stops listening and cuts every forwarded connection: the target looks down. */
  stop(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 to a local service (Postgres, RabbitMQ), created
 * stopped: a process pointed at it sees the service down until `start()`.
 */
export async function createTcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });

  return {
    port,
    async start() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    async stop() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
