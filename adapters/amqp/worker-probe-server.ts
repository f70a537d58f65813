import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';

export interface WorkerProbeServerOptions {
  readonly host: string;
  /** `METRICS_PORT`; 0 picks a free port. */
  readonly port: number;
  /** True once the worker consumes; decides `/healthz`. */
  readonly isReady: () => boolean;
  readonly registry: Registry;
  readonly log: Logger;
}

export interface WorkerProbeServer {
  /** The port actually listened on. */
  readonly port: number;
  /** Stops listening and drops idle keep-alive sockets; safe to call twice. */
  close(): Promise<void>;
}

/**
 * The worker's tiny HTTP side: `GET /healthz` → 200 `{"ok":true}` while the
 * consumer consumes, else 503 `{"ok":false}`; `GET /metrics` → the Prometheus
 * registry. Anything else is 404.
 *
 * @example
 * const probe = await startWorkerProbeServer({ host: config.host, port: config.metricsPort, isReady: () => consumer.consuming, registry, log });
 */
export async function startWorkerProbeServer(options: WorkerProbeServerOptions): Promise<WorkerProbeServer> {
  const { host, port, isReady, registry, log } = options;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'application/json', '{"error":"method not allowed"}');
      return;
    }
    if (path === '/healthz') {
      const ok = isReady();
      send(response, ok ? 200 : 503, 'application/json', JSON.stringify({ ok }));
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(response, 200, registry.contentType, text),
        (error: unknown) => {
          log.warn({ err: errorSummary(error) }, 'could not render metrics');
          send(response, 500, 'text/plain', 'metrics unavailable\n');
        },
      );
      return;
    }
    send(response, 404, 'application/json', '{"error":"not found"}');
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const listening = (server.address() as AddressInfo).port;
  log.info({ host, port: listening }, 'health and metrics listening');

  let closing: Promise<void> | undefined;
  return {
    port: listening,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}
