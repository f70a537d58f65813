import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOffSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { producerSpans } from '#adapters/telemetry/message-tracing.ts';

const DESTINATION = { exchange: 'images', routingKey: 'process_image' };
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN_ID}-01`;

/** The context of a request that came in with `TRACEPARENT`. */
function incomingRequest(): Context {
  return propagation.extract(context.active(), { traceparent: TRACEPARENT });
}

function headersOfBatch(ids: readonly string[], parent: Context): Record<string, string>[] {
  return context.with(parent, () => {
    const spanFor = producerSpans(DESTINATION);
    return ids.map((id) => {
      const span = spanFor(id);
      span.end();
      return span.headers;
    });
  });
}

// The tests without an SDK come first: the API's proxies hold on to the first provider they meet.
describe('producerSpans', () => {
  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });

  after(() => {
    trace.disable();
    propagation.disable();
    context.disable();
  });

  describe('without a tracing SDK', () => {
    it("gives every message of a batch the request's trace context, so the consumer joins the request's trace", () => {
      const headers = headersOfBatch(['1', '2', '3'], incomingRequest());

      assert.deepEqual(headers, [{ traceparent: TRACEPARENT }, { traceparent: TRACEPARENT }, { traceparent: TRACEPARENT }]);
    });

    it('gives no trace headers when the request carried no trace', () => {
      const headers = headersOfBatch(['1', '2'], context.active());

      assert.deepEqual(headers, [{}, {}]);
    });
  });

  describe('with a tracing SDK', () => {
    let exporter: InMemorySpanExporter;
    let provider: TracerProvider;

    /** A fresh exporter each time: shutting a provider down stops its exporter. */
    function register(options: { sampler?: AlwaysOffSampler } = {}): void {
      exporter = new InMemorySpanExporter();
      provider = new TracerProvider({ ...options, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
      trace.setGlobalTracerProvider(provider);
    }

    afterEach(async () => {
      await provider.shutdown();
      trace.disable();
    });

    it('opens one producer span per message, each a child of the request, its own context in its headers', () => {
      register();

      const headers = headersOfBatch(['1', '2', '3'], incomingRequest());

      const spans = exporter.getFinishedSpans();
      assert.equal(spans.length, 3);
      spans.forEach((span, index) => {
        assert.equal(span.kind, SpanKind.PRODUCER);
        assert.equal(span.name, 'publish images');
        assert.equal(span.attributes['messaging.message.id'], String(index + 1));
        assert.equal(span.spanContext().traceId, TRACE_ID);
        assert.equal(span.parentSpanContext?.spanId, CALLER_SPAN_ID);
        assert.equal(headers[index]?.traceparent, `00-${TRACE_ID}-${span.spanContext().spanId}-01`);
      });
      assert.equal(new Set(spans.map((span) => span.spanContext().spanId)).size, 3);
    });

    it('ends a refused message with status ERROR and its exception, the others without', () => {
      register();

      context.with(incomingRequest(), () => {
        const spanFor = producerSpans(DESTINATION);
        const [first, second] = [spanFor('1'), spanFor('2')];
        first.end();
        second.end(new Error('nacked'));
      });

      const [first, second] = exporter.getFinishedSpans();
      assert.equal(first?.status.code, SpanStatusCode.UNSET);
      assert.equal(second?.status.code, SpanStatusCode.ERROR);
      assert.equal(second?.events[0]?.name, 'exception');
    });

    it('gives each message its own span id even when the sampler drops the spans', () => {
      register({ sampler: new AlwaysOffSampler() });

      const headers = headersOfBatch(['1', '2'], incomingRequest());

      const spanIds = headers.map((carrier) => carrier.traceparent?.split('-')[2]);
      assert.equal(spanIds.length, 2);
      assert.notEqual(spanIds[0], spanIds[1]);
      assert.ok(!spanIds.includes(CALLER_SPAN_ID));
      assert.equal(exporter.getFinishedSpans().length, 0);
    });
  });
});
