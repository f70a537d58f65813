import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import type { Config } from '#adapters/config.ts';
import { startTelemetry, type Telemetry } from '#adapters/telemetry/start-telemetry.ts';
import { MemoryLogger } from '#test/fakes/support.ts';
import { freePort } from '#test/support/free-port.ts';
import { OtlpSpanKind, startOtlpReceiver, type OtlpReceiver } from '#test/support/otlp-receiver.ts';

function otelConfig(overrides: Partial<Config['otel']> = {}): Config['otel'] {
  return { tracesUrl: undefined, serviceName: 'unit-test', disabled: false, ...overrides };
}

/** Sets environment variables for one test; `restore()` puts the old values back. */
function withEnv(values: Record<string, string>): { restore(): void } {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  Object.assign(process.env, values);
  return {
    restore() {
      for (const [name, value] of Object.entries(previous)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
  };
}

const INCOMING_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('startTelemetry', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry | undefined;
  let env: { restore(): void } | undefined;

  before(async () => {
    receiver = await startOtlpReceiver();
  });

  afterEach(async () => {
    await telemetry?.shutdown();
    telemetry = undefined;
    env?.restore();
    env = undefined;
  });

  after(async () => {
    await receiver.close();
  });

  it('sends spans to the collector with the service name, delivered by the flush in shutdown', async () => {
    // Prepare: a schedule delay so long that only shutdown can deliver the spans.
    env = withEnv({ OTEL_BSP_SCHEDULE_DELAY: '60000' });
    const log = new MemoryLogger();
    telemetry = await startTelemetry(otelConfig({ tracesUrl: receiver.tracesUrl, serviceName: 'unit-api' }), log);
    const tracer = trace.getTracer('unit');

    // Act
    await tracer.startActiveSpan('parent-op', { kind: SpanKind.SERVER }, async (parent) => {
      await sleep(5);
      await tracer.startActiveSpan('child-op', async (child) => {
        child.setAttribute('imgpipe.test.bytes', 1234);
        await sleep(5);
        child.end();
      });
      parent.end();
    });
    await new Promise((resolve) => setImmediate(resolve));
    const beforeShutdown = receiver.spans.filter((span) => span.serviceName === 'unit-api').length;
    await telemetry.shutdown();

    // Assess
    assert.equal(beforeShutdown, 0, 'nothing was sent before shutdown');
    const [parent] = receiver.spans.filter((span) => span.name === 'parent-op');
    const [child] = receiver.spans.filter((span) => span.name === 'child-op');
    assert.ok(parent && child, 'both spans arrived');
    assert.equal(parent.serviceName, 'unit-api');
    assert.equal(parent.kind, OtlpSpanKind.SERVER);
    assert.equal(parent.parentSpanId, undefined);
    assert.equal(child.traceId, parent.traceId);
    assert.equal(child.parentSpanId, parent.spanId, 'the child ran inside the parent context across awaits');
    assert.equal(child.attributes['imgpipe.test.bytes'], 1234);
    assert.ok(log.lines.some((line) => line.level === 'info' && line.message?.includes('exporting spans')));
  });

  it('delivers the spans ended so far on flush and keeps exporting afterwards', async () => {
    // Prepare: as on Lambda, the batch would wait a minute before sending.
    env = withEnv({ OTEL_BSP_SCHEDULE_DELAY: '60000' });
    telemetry = await startTelemetry(otelConfig({ tracesUrl: receiver.tracesUrl, serviceName: 'unit-lambda' }), new MemoryLogger());
    const tracer = trace.getTracer('unit');

    // Act
    tracer.startSpan('first-invocation').end();
    await telemetry.flush();
    tracer.startSpan('second-invocation').end();
    await telemetry.flush();

    // Assess
    const names = receiver.spans.filter((span) => span.serviceName === 'unit-lambda').map((span) => span.name);
    assert.deepEqual(names.sort(), ['first-invocation', 'second-invocation'], 'each flush delivered its span');
  });

  it('adds OTEL_RESOURCE_ATTRIBUTES to the resource while service.name comes from the config', async () => {
    env = withEnv({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,service.name=from-env' });
    telemetry = await startTelemetry(otelConfig({ tracesUrl: receiver.tracesUrl, serviceName: 'unit-worker' }), new MemoryLogger());

    trace.getTracer('unit').startSpan('resource-op').end();
    await telemetry.shutdown();

    const [span] = await receiver.waitForSpans((s) => s.name === 'resource-op', 1_000);
    assert.equal(span!.serviceName, 'unit-worker');
    assert.equal(span!.resource['deployment.environment.name'], 'ci');
    assert.equal(typeof span!.resource['process.pid'], 'number');
  });

  it('posts to the configured traces URL, not to one the exporter would derive from the environment', async () => {
    // The original .env's value: the exporter alone would post to /v1/traces/v1/traces.
    env = withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.tracesUrl });
    telemetry = await startTelemetry(otelConfig({ tracesUrl: receiver.tracesUrl }), new MemoryLogger());

    trace.getTracer('unit').startSpan('legacy-endpoint-op').end();
    await telemetry.shutdown();

    await receiver.waitForSpans((span) => span.name === 'legacy-endpoint-op', 1_000);
  });

  it('injects the active span as a W3C traceparent and continues an incoming one', async () => {
    telemetry = await startTelemetry(otelConfig({ tracesUrl: receiver.tracesUrl }), new MemoryLogger());
    const tracer = trace.getTracer('unit');
    const incoming = propagation.extract(context.active(), { traceparent: INCOMING_TRACEPARENT });

    const headers: Record<string, string> = {};
    const spanId = await context.with(incoming, () =>
      tracer.startActiveSpan('continued-op', async (span) => {
        await sleep(1);
        propagation.inject(context.active(), headers);
        span.end();
        return span.spanContext().spanId;
      }),
    );

    assert.equal(headers.traceparent, `00-4bf92f3577b34da6a3ce929d0e0e4736-${spanId}-01`);
  });

  it('keeps a traced operation fast and logs the failure once when the collector is down', async () => {
    // Prepare: a closed port; exports are attempted every 10 ms and give up after 300 ms.
    const closedPort = await freePort();
    env = withEnv({ OTEL_BSP_SCHEDULE_DELAY: '10', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '300' });
    const log = new MemoryLogger();
    telemetry = await startTelemetry(otelConfig({ tracesUrl: `http://127.0.0.1:${closedPort}/v1/traces` }), log);
    const tracer = trace.getTracer('unit');

    // Act: 40 traced steps while exports keep failing underneath.
    for (let step = 0; step < 40; step += 1) {
      await tracer.startActiveSpan('step', async (span) => {
        await sleep(10);
        span.end();
      });
    }
    await telemetry.shutdown();

    // Assess
    const failures = log.lines.filter((line) => line.level === 'warn' && line.message?.startsWith('tracing: ') && !line.message.includes('last spans'));
    assert.equal(failures.length, 1, `one throttled line, got: ${JSON.stringify(failures)}`);
    assert.match(JSON.stringify(failures[0]), /ECONNREFUSED/);
  });

  it('returns from shutdown within its timeout when the collector never answers', { timeout: 120_000 }, async () => {
    // Prepare: a collector that accepts connections and never replies.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    // An export that would wait an hour: only the shutdown timeout can end the shutdown.
    env = withEnv({ OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3600000', OTEL_BSP_SCHEDULE_DELAY: '60000' });
    const log = new MemoryLogger();
    try {
      telemetry = await startTelemetry(otelConfig({ tracesUrl: `http://127.0.0.1:${port}/v1/traces` }), log, { shutdownTimeoutMs: 300 });
      trace.getTracer('unit').startSpan('stuck-op').end();

      // Act
      await telemetry.shutdown();
      const triedToExport = sockets.size > 0;
      await telemetry.shutdown();

      // Assess: it tried to flush the span, gave up at its timeout, said so once.
      assert.ok(triedToExport, 'shutdown returned without trying to export the last span');
      const warnings = log.lines.filter((line) => line.level === 'warn' && line.message?.includes('last spans were not all exported'));
      assert.equal(warnings.length, 1);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
      await once(silent, 'close');
    }
  });

  it('exports nothing when OTEL_SDK_DISABLED, yet carries an incoming trace context through', async () => {
    const requestsBefore = receiver.requests;
    telemetry = await startTelemetry(otelConfig({ tracesUrl: receiver.tracesUrl, disabled: true }), new MemoryLogger());
    const tracer = trace.getTracer('unit');
    const incoming = propagation.extract(context.active(), { traceparent: INCOMING_TRACEPARENT });

    const headers: Record<string, string> = {};
    const recording = await context.with(incoming, () =>
      tracer.startActiveSpan('disabled-op', async (span) => {
        await sleep(5);
        propagation.inject(context.active(), headers);
        span.end();
        return span.isRecording();
      }),
    );
    // shutdown() resolves once any export it started has ended.
    await telemetry.shutdown();

    assert.equal(recording, false);
    assert.equal(headers.traceparent, INCOMING_TRACEPARENT, 'the trace continues downstream');
    assert.equal(receiver.requests, requestsBefore, 'no export request was made');
  });

  it('exports nothing without an OTLP endpoint and says so once at start', async () => {
    const log = new MemoryLogger();
    const requestsBefore = receiver.requests;
    telemetry = await startTelemetry(otelConfig({ tracesUrl: undefined }), log);

    trace.getTracer('unit').startSpan('nowhere-op').end();
    await telemetry.shutdown();

    assert.equal(receiver.requests, requestsBefore);
    assert.ok(log.lines.some((line) => line.message?.includes('no spans are exported')));
  });
});
