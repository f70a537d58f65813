/**
 * The AWS Lambda entry (`dist/lambda.mjs`): `handler` serves API Gateway events
 * (REST API v1 and HTTP API v2) with the same app as `dist/http.mjs`, composed
 * once per container, on the first invocation; importing this module only
 * reads the configuration (a bad variable fails the init, naming it). A failed
 * composition is closed and tried again on the next invocation.
 */
import { loadConfig } from '#adapters/config.ts';
import { createLogger } from '#adapters/logger.ts';
import { makeLambdaHandler, type LambdaContext, type LambdaHandler, type LambdaResponse } from '#adapters/http/lambda-handler.ts';
import { composeApi } from './compose-api.ts';
import { ShutdownPlan } from './shutdown-plan.ts';

const config = loadConfig(process.env, 'api');

let composing: Promise<LambdaHandler> | undefined;

async function compose(): Promise<LambdaHandler> {
  const log = createLogger(config);
  const shutdown = new ShutdownPlan('api', log);
  let api: Awaited<ReturnType<typeof composeApi>>;
  let lambdaHandler: LambdaHandler;
  try {
    api = await composeApi(config, log, shutdown);
    lambdaHandler = makeLambdaHandler(api.app);
    // A plugin that fails to load fails the composition, so the next invocation composes afresh.
    await api.app.ready();
  } catch (error) {
    await shutdown.close('startup failed');
    throw error;
  }
  // Lambda sends SIGTERM before it shuts a container down (when an extension
  // is registered): flush spans and close connections then.
  process.once('SIGTERM', () => {
    void shutdown.close('SIGTERM').then(() => process.exit(0));
  });
  return async (event, context) => {
    try {
      return await lambdaHandler(event, context);
    } finally {
      // Lambda freezes the process between invocations: a span still waiting
      // in the batch would leave only when the container thaws, or never.
      await api.flushTelemetry();
    }
  };
}

export async function handler(event: unknown, context: LambdaContext): Promise<LambdaResponse> {
  composing ??= compose().catch((error: unknown) => {
    // Let the next invocation try again rather than fail forever.
    composing = undefined;
    throw error;
  });
  const lambdaHandler = await composing;
  return lambdaHandler(event, context);
}
