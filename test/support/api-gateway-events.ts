/**
 * API Gateway proxy events, as the Lambda runtime hands them over, for driving
 * the Lambda entry in tests. `restApiEvent` is the REST API (payload v1),
 * `httpApiEvent` the HTTP API (payload v2).
 */
export interface RequestSpec {
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** An object is sent as JSON (with its content type); a string as it is. */
  readonly body?: unknown;
}

const REQUEST_TIME_EPOCH = 1_700_000_000_000;

function bodyAndHeaders(spec: RequestSpec): { body: string | null; headers: Record<string, string> } {
  const headers: Record<string, string> = { host: 'api.imgpipe.test', 'user-agent': 'api-gateway-test', ...spec.headers };
  if (spec.body === undefined) return { body: null, headers };
  if (typeof spec.body === 'string') return { body: spec.body, headers };
  return { body: JSON.stringify(spec.body), headers: { 'content-type': 'application/json', ...headers } };
}

/** A REST API (v1) proxy event. */
export function restApiEvent(spec: RequestSpec): Record<string, unknown> {
  const { body, headers } = bodyAndHeaders(spec);
  return {
    resource: '/{proxy+}',
    path: spec.path,
    httpMethod: spec.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: spec.query ?? null,
    multiValueQueryStringParameters: spec.query
      ? Object.fromEntries(Object.entries(spec.query).map(([name, value]) => [name, [value]]))
      : null,
    pathParameters: { proxy: spec.path.slice(1) },
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'restapi01',
      resourcePath: '/{proxy+}',
      httpMethod: spec.method,
      path: `/prod${spec.path}`,
      stage: 'prod',
      requestId: `rest-${spec.method}-${spec.path}`,
      requestTimeEpoch: REQUEST_TIME_EPOCH,
      identity: { sourceIp: '203.0.113.10', userAgent: headers['user-agent'] },
    },
    body,
    isBase64Encoded: false,
  };
}

/** An HTTP API (v2) proxy event. */
export function httpApiEvent(spec: RequestSpec): Record<string, unknown> {
  const { body, headers } = bodyAndHeaders(spec);
  const rawQueryString = new URLSearchParams(spec.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: spec.path,
    rawQueryString,
    headers,
    ...(spec.query ? { queryStringParameters: spec.query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'httpapi01',
      domainName: headers.host,
      http: { method: spec.method, path: spec.path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.20', userAgent: headers['user-agent'] },
      requestId: `http-${spec.method}-${spec.path}`,
      routeKey: '$default',
      stage: '$default',
      time: '14/Nov/2023:22:13:20 +0000',
      timeEpoch: REQUEST_TIME_EPOCH,
    },
    ...(body === null ? {} : { body }),
    isBase64Encoded: false,
  };
}

/** The Lambda context object; the handler reads little of it. */
export function lambdaContext(): { awsRequestId: string; functionName: string; callbackWaitsForEmptyEventLoop: boolean; getRemainingTimeInMillis(): number } {
  return {
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    functionName: 'imgpipe-api',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
  };
}
