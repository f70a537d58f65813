import awsLambdaFastify from '@fastify/aws-lambda';
import type { FastifyInstance } from 'fastify';

/** The subset of API Gateway's proxy response every event version gets back. */
export interface LambdaResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
  readonly cookies?: string[];
}

/** The Lambda runtime's context object; only what this adapter touches is typed. */
export interface LambdaContext {
  callbackWaitsForEmptyEventLoop?: boolean;
  readonly awsRequestId?: string;
  readonly [key: string]: unknown;
}

export type LambdaHandler = (event: unknown, context: LambdaContext) => Promise<LambdaResponse>;

/**
 * An AWS Lambda handler for API Gateway events (REST API v1 and HTTP API v2
 * payloads) around an app made by `buildHttpApp`: each event is injected into
 * the app, which is made ready once, before the first. Sample JPEGs go back
 * base64-encoded, as API Gateway requires for binary bodies.
 *
 * @example
 * export const handler = makeLambdaHandler(buildHttpApp(deps));
 */
export function makeLambdaHandler(app: FastifyInstance): LambdaHandler {
  const proxy = awsLambdaFastify<unknown>(app, {
    binaryMimeTypes: ['image/jpeg'],
    // Pools and broker connections stay open between invocations by design.
    callbackWaitsForEmptyEventLoop: false,
  });
  let ready: PromiseLike<unknown> | undefined;
  return async (event, context) => {
    ready ??= app.ready();
    await ready;
    return proxy(event, context);
  };
}
