import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import { context, propagation, SpanKind, SpanStatusCode, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import Fastify from 'fastify';
import type { Job } from '#functions/job.ts';
import type { JobPublisher } from '#functions/ports.ts';
import { startProducerSpan } from '#adapters/telemetry/message-tracing.ts';
import { httpTracing } from '#adapters/telemetry/http-tracing.ts';
import { httpAppWithFakes, taskBody, type HttpAppHarness } from '#test/support/http-app-harness.ts';
import { MemoryPublisher } from '#test/fakes/memory-publisher.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;

/** A publisher that notes which span is active while it publishes, and opens producer spans like the real one. */
class SpanRecordingPublisher extends MemoryPublisher implements JobPublisher {
  readonly activeDuringPublish: Array<SpanContext | undefined> = [];

  override async publish(jobs: readonly Job[]): Promise<void> {
    this.activeDuringPublish.push(trace.getActiveSpan()?.spanContext());
    for (const job of jobs) startProducerSpan({ exchange: 'images', routingKey: 'process_image' }, job.id).end();
    await super.publish(jobs);
  }
}

describe('httpTracing', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  let harness: HttpAppHarness;
  let publisher: SpanRecordingPublisher;

  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });

  after(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  afterEach(async () => {
    await harness?.app.close();
    exporter.reset();
  });

  function setUp() {
    publisher = new SpanRecordingPublisher();
    harness = httpAppWithFakes({ rows: 3, publisher });
  }

  function serverSpans(): ReadableSpan[] {
    return exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
  }

  function onlyServerSpan(): ReadableSpan {
    const spans = serverSpans();
    assert.equal(spans.length, 1, `server spans: ${spans.map((span) => span.name).join(', ')}`);
    return spans[0]!;
  }

  it('continues the incoming traceparent with one server span named after the route', async () => {
    setUp();

    const response = await harness.app.inject({
      method: 'POST',
      url: '/tasks',
      headers: { traceparent: TRACEPARENT, 'user-agent': 'tracing-test/1.0', host: 'api.imgpipe.test:8000' },
      payload: taskBody(),
    });

    assert.equal(response.statusCode, 202);
    const span = onlyServerSpan();
    assert.equal(span.name, 'POST /tasks');
    assert.equal(span.spanContext().traceId, TRACE_ID);
    assert.equal(span.parentSpanContext?.spanId, CALLER_SPAN_ID);
    assert.deepEqual(
      {
        method: span.attributes['http.request.method'],
        path: span.attributes['url.path'],
        route: span.attributes['http.route'],
        status: span.attributes['http.response.status_code'],
        userAgent: span.attributes['user_agent.original'],
        address: span.attributes['server.address'],
        port: span.attributes['server.port'],
      },
      { method: 'POST', path: '/tasks', route: '/tasks', status: 202, userAgent: 'tracing-test/1.0', address: 'api.imgpipe.test', port: 8000 },
    );
    assert.equal(span.status.code, SpanStatusCode.UNSET);
  });

  it('runs the handler inside the server span: the publisher sees it active and its producer spans are children', async () => {
    setUp();

    await harness.app.inject({ method: 'POST', url: '/tasks', headers: { traceparent: TRACEPARENT }, payload: taskBody() });

    const server = onlyServerSpan();
    assert.equal(publisher.activeDuringPublish.length, 1);
    assert.equal(publisher.activeDuringPublish[0]?.spanId, server.spanContext().spanId);
    const producers = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.PRODUCER);
    assert.equal(producers.length, 1);
    assert.equal(producers[0]!.parentSpanContext?.spanId, server.spanContext().spanId);
    assert.equal(producers[0]!.spanContext().traceId, TRACE_ID);
  });

  it('keeps the server span active when the body arrives on the socket after the headers', async () => {
    setUp();
    await harness.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = harness.app.server.address() as { port: number };

    const status = await postWithLateBody(port, '/tasks', JSON.stringify(taskBody()), { traceparent: TRACEPARENT });
    await waitForServerSpans(1);

    const server = onlyServerSpan();
    assert.equal(status, 202);
    assert.equal(server.name, 'POST /tasks');
    assert.equal(server.attributes['server.port'], port);
    assert.equal(publisher.activeDuringPublish[0]?.spanId, server.spanContext().spanId);
  });

  it('starts a new trace when no traceparent came in', async () => {
    setUp();

    await harness.app.inject({ method: 'POST', url: '/enqueue?limit=1' });

    const span = onlyServerSpan();
    assert.equal(span.name, 'POST /enqueue');
    assert.equal(span.parentSpanContext, undefined);
    assert.notEqual(span.spanContext().traceId, TRACE_ID);
  });

  it('marks a 5xx as an error with the exception, and a 4xx not', async () => {
    setUp();
    publisher.refuse = true;

    await harness.app.inject({ method: 'POST', url: '/tasks', payload: taskBody() });
    await harness.app.inject({ method: 'POST', url: '/tasks', payload: taskBody({ url: 'ftp://images.test/x.jpg' }) });

    const [unavailable, invalid] = serverSpans();
    assert.equal(unavailable!.attributes['http.response.status_code'], 503);
    assert.equal(unavailable!.status.code, SpanStatusCode.ERROR);
    assert.equal(unavailable!.attributes['error.type'], 'PUBLISH_REFUSED');
    assert.ok(unavailable!.events.some((event) => event.name === 'exception'));
    assert.equal(invalid!.attributes['http.response.status_code'], 400);
    assert.equal(invalid!.status.code, SpanStatusCode.UNSET);
    assert.equal(invalid!.events.length, 0);
  });

  it('opens no span for health probes and sample images', async () => {
    setUp();

    await harness.app.inject({ method: 'GET', url: '/healthz', headers: { traceparent: TRACEPARENT } });
    await harness.app.inject({ method: 'GET', url: '/healthz?probe=live' });
    await harness.app.inject({ method: 'GET', url: '/samples/seed/7/32/32' });

    assert.deepEqual(exporter.getFinishedSpans(), []);
  });

  it('names a request that matched no route after its method only', async () => {
    setUp();

    await harness.app.inject({ method: 'GET', url: '/nowhere' });

    const span = onlyServerSpan();
    assert.equal(span.name, 'GET');
    assert.equal(span.attributes['http.route'], undefined);
    assert.equal(span.attributes['http.response.status_code'], 404);
  });

  it('traces routes registered in encapsulated plugins after it', async () => {
    const app = Fastify();
    app.register(httpTracing);
    app.register(async (child) => {
      child.get('/inside/:name', async () => ({ ok: true }));
    });

    try {
      await app.inject({ method: 'GET', url: '/inside/x' });
    } finally {
      await app.close();
    }

    assert.equal(onlyServerSpan().name, 'GET /inside/:name');
  });

  async function waitForServerSpans(count: number): Promise<void> {
    // onResponse runs once the response is written, a moment after the client has it.
    for (let attempt = 0; attempt < 100 && serverSpans().length < count; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
});

/** Sends the headers, then the body a moment later, as a slow client would. */
async function postWithLateBody(port: number, path: string, body: string, headers: Record<string, string>): Promise<number> {
  const request = httpRequest({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  request.flushHeaders();
  await new Promise((resolve) => setTimeout(resolve, 50));
  request.end(body);
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  response.resume();
  await once(response, 'end');
  return response.statusCode ?? 0;
}
