/**
 * The API server (`dist/http.mjs`): the Fastify adapter on `HOST:PORT`
 * (`0.0.0.0:8000`), over Postgres (`DATABASE_URL`) and RabbitMQ (`RABBIT_URL`).
 * It starts, and stays up, while either is down: `GET /healthz` reports which.
 *
 * SIGTERM or SIGINT: stop accepting requests and finish the running ones,
 * then close the publisher, the database pool and telemetry; exit 0.
 */
import type { AddressInfo } from 'node:net';
import { errorSummary } from '#functions/errors.ts';
import { loadConfigOrExit } from '#adapters/load-config-or-exit.ts';
import { createLogger } from '#adapters/logger.ts';
import { composeApi, type ComposedApi } from './compose-api.ts';
import { localUrl } from './local-url.ts';

async function main(): Promise<void> {
  const config = loadConfigOrExit('api');
  const log = createLogger(config);
  let api: ComposedApi | undefined;
  try {
    api = await composeApi(config, log);
    await api.app.listen({ host: config.host, port: config.port });
  } catch (error) {
    log.fatal({ err: errorSummary(error) }, 'api failed to start');
    await api?.close();
    process.exit(1);
  }

  const { port } = api.app.server.address() as AddressInfo;
  log.info({ url: localUrl(config.host, port) }, 'api listening');

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void api.close(signal).then(() => process.exit(0));
    });
  }
}

await main();
