/**
 * The API server (`dist/http.mjs`): the Fastify adapter on `HOST:PORT`
 * (`0.0.0.0:8000`), over Postgres (`DATABASE_URL`) and RabbitMQ (`RABBIT_URL`).
 * It starts, and stays up, while either is down: `GET /healthz` reports which.
 *
 * SIGTERM or SIGINT: stop accepting requests and finish the running ones,
 * then close the publisher, the database pool and telemetry; exit 0.
 */
import type { AddressInfo } from 'node:net';
import { localUrl } from '#adapters/http/local-url.ts';
import { composeApi } from './compose-api.ts';
import { runEntry } from './run-entry.ts';

await runEntry('api', async ({ config, log, shutdown }) => {
  const { app } = await composeApi(config, log, shutdown);
  await app.listen({ host: config.host, port: config.port });
  const { port } = app.server.address() as AddressInfo;
  return { url: localUrl(config.host, port) };
});
