import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';

export interface HttpTracingOptions {
  /**
   * Routes (as registered, e.g. `/healthz`) that get no span. Probes and the
   * sample source are fetched constantly (kubelet, workers) and would bury
   * the traces that matter.
   */
  readonly skip?: (route: string | undefined) => boolean;
}

interface RequestTrace {
  readonly span: Span;
  error?: unknown;
}

/**
 * One SERVER span per request, named `<METHOD> <route>` (`POST /tasks`), with
 * the HTTP semantic-convention attributes, continuing the caller's W3C
 * `traceparent` when one came in. The hooks and the handler run inside the
 * span's context, so spans opened there (the publisher's producer spans) are
 * its children. 5xx answers mark the span as an error and record the
 * exception; 4xx answers do not (the server did what it should).
 *
 * Registered on the root instance (it skips Fastify's encapsulation), it
 * traces every route registered after it. Uses only `@opentelemetry/api`:
 * without a registered SDK it costs next to nothing.
 *
 * @example
 * app.register(httpTracing, { skip: (route) => route === '/healthz' });
 */
const plugin: FastifyPluginCallback<HttpTracingOptions> = (app, options, done) => {
  const traces = new WeakMap<FastifyRequest, RequestTrace>();
  const skip = options.skip ?? (() => false);

  app.addHook('onRequest', (request, _reply, next) => {
    const route = routeOf(request);
    if (skip(route)) {
      next();
      return;
    }
    const parent = propagation.extract(context.active(), request.headers);
    // Looked up per request: a tracer taken at import would stay bound to the
    // first provider registered, and tests register more than one.
    const span = trace.getTracer('imgpipe-http').startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: requestAttributes(request, route) },
      parent,
    );
    traces.set(request, { span });
    // Everything after this hook runs inside the span's context: Fastify keeps
    // the async context across body parsing (its content-type parser runs in
    // an AsyncResource); test/integration/http-tracing.test.ts holds it to that.
    context.with(trace.setSpan(parent, span), next);
  });

  app.addHook('onError', (request, _reply, error, next) => {
    const traced = traces.get(request);
    if (traced) traced.error = error;
    next();
  });

  app.addHook('onResponse', (request, reply, next) => {
    const traced = traces.get(request);
    if (traced) {
      traces.delete(request);
      const status = reply.statusCode;
      traced.span.setAttribute('http.response.status_code', status);
      if (status >= 500) {
        const error = traced.error;
        if (error !== undefined) traced.span.recordException(error instanceof Error ? error : String(error));
        traced.span.setAttribute('error.type', errorType(error) ?? String(status));
        traced.span.setStatus({ code: SpanStatusCode.ERROR });
      }
      traced.span.end();
    }
    next();
  });

  app.addHook('onRequestAbort', (request, next) => {
    const traced = traces.get(request);
    if (traced) {
      traces.delete(request);
      traced.span.setAttribute('error.type', 'aborted');
      traced.span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the request' });
      traced.span.end();
    }
    next();
  });

  done();
};

export const httpTracing = Object.assign(plugin, {
  // Hooks apply to the whole app, not only to this plugin's own context.
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'imgpipe-http-tracing',
});

function routeOf(request: FastifyRequest): string | undefined {
  const route = request.routeOptions.url;
  // The not-found handler's route is a wildcard: no route matched.
  return route === undefined || route === '*' || route === '/*' ? undefined : route;
}

function requestAttributes(request: FastifyRequest, route: string | undefined): Attributes {
  const path = request.url.split('?', 1)[0]!;
  const attributes: Attributes = {
    'http.request.method': request.method,
    'url.path': path,
    'url.scheme': request.protocol,
    'network.protocol.version': request.raw.httpVersion,
  };
  if (route !== undefined) attributes['http.route'] = route;
  if (request.hostname) attributes['server.address'] = request.hostname;
  if (request.port) attributes['server.port'] = request.port;
  if (request.ip) attributes['client.address'] = request.ip;
  const userAgent = request.headers['user-agent'];
  if (userAgent) attributes['user_agent.original'] = userAgent;
  return attributes;
}

function errorType(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error.name;
}
