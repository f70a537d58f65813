import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import type { Config } from '#adapters/config.ts';
import { redactCredentials } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';

export interface Telemetry {
  /**
   * Exports the spans ended so far and keeps going: for runtimes that freeze the
   * process between requests (Lambda). Never throws; waits at most the shutdown timeout.
   */
  flush(): Promise<void>;
  /** Flushes pending spans and stops exporting; safe to call twice. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** How long `shutdown()` waits for the last spans to reach the collector. */
  readonly shutdownTimeoutMs?: number;
  /** At most one line about exporter trouble per this many milliseconds. */
  readonly diagIntervalMs?: number;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
const DEFAULT_DIAG_INTERVAL_MS = 60_000;

/**
 * Sets OpenTelemetry up once for an entry point. Call it first, before the
 * adapters are built, and `shutdown()` last.
 *
 * Registers globally the AsyncLocalStorage context manager and the W3C trace
 * context (+ baggage) propagator, always, so context flows across awaits and
 * through message headers. When `config.tracesUrl` is set and `config.disabled`
 * is not, it also registers a tracer provider whose spans go, in batches, to
 * that OTLP/HTTP (JSON) URL, with `service.name` = `config.serviceName` (plus
 * `OTEL_RESOURCE_ATTRIBUTES`, process and host attributes).
 *
 * `service.name` always comes from the config (`OTEL_SERVICE_NAME`, else the
 * entry's default), even when `OTEL_RESOURCE_ATTRIBUTES` also names one.
 *
 * Spans are opened by hand (adapters/telemetry/*, functions/traced-step.ts):
 * the bundles cannot be patched by auto-instrumentation, so none is loaded.
 * Hence the trace SDK is assembled here rather than through `NodeSDK`, which
 * would also start OTLP metrics and logs exporters from the environment, skip
 * even context propagation under `OTEL_SDK_DISABLED`, and pull the gRPC and
 * Prometheus exporters into every bundle (about 2 MB more). The SDK and the
 * exporter (`otlp-tracer-provider.ts`) are loaded only when spans are
 * exported, so a process without an endpoint never parses them.
 *
 * Exporting never blocks the caller: ended spans go to a bounded queue
 * (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048; beyond it spans are dropped), each export
 * has a deadline (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s), and exporter trouble is
 * logged at warn at most once a minute.
 *
 * @example
 * const telemetry = await startTelemetry(config.otel, log);
 * process.once('SIGTERM', async () => { await app.close(); await telemetry.shutdown(); });
 */
export async function startTelemetry(config: Config['otel'], log: Logger, options: TelemetryOptions = {}): Promise<Telemetry> {
  diag.setLogger(throttledDiagLogger(log, options.diagIntervalMs ?? DEFAULT_DIAG_INTERVAL_MS), {
    logLevel: DiagLogLevel.WARN,
    suppressOverrideMessage: true,
  });

  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );

  let provider: TracerProvider | undefined;
  if (config.disabled || config.tracesUrl === undefined) {
    log.info(
      { serviceName: config.serviceName, reason: config.disabled ? 'OTEL_SDK_DISABLED' : 'no OTLP endpoint' },
      'tracing: context propagates, no spans are exported',
    );
  } else {
    // Loaded only here: a process that exports nothing never parses the SDK and the exporter.
    const { otlpTracerProvider } = await import('./otlp-tracer-provider.ts');
    provider = otlpTracerProvider(config.serviceName, config.tracesUrl);
    trace.setGlobalTracerProvider(provider);
    log.info({ serviceName: config.serviceName, tracesUrl: redactCredentials(config.tracesUrl) }, 'tracing: exporting spans over OTLP/HTTP');
  }

  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  let stopping: Promise<void> | undefined;
  return {
    async flush() {
      if (!provider || stopping) return;
      try {
        await withTimeout(provider.forceFlush(), shutdownTimeoutMs);
      } catch (error) {
        log.warn({ err: error instanceof Error ? error.message : String(error) }, 'tracing: spans were not all exported');
      }
    },
    shutdown() {
      stopping ??= (async () => {
        try {
          if (provider) await withTimeout(provider.shutdown(), shutdownTimeoutMs);
        } catch (error) {
          log.warn({ err: error instanceof Error ? error.message : String(error) }, 'tracing: last spans were not all exported');
        } finally {
          // Unregister so nothing is queued into a stopped provider, and so a
          // later startTelemetry in the same process (tests) can register again.
          trace.disable();
          propagation.disable();
          context.disable();
          diag.disable();
        }
      })();
      return stopping;
    },
  };
}

/**
 * The SDK reports exporter trouble through `diag` (and its global error handler,
 * which writes to `diag.error`). A collector that is down would otherwise log
 * every few seconds; forward the first line of each interval at warn and count
 * the rest.
 */
function throttledDiagLogger(log: Logger, intervalMs: number): DiagLogger {
  let windowStart = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  const forward = (message: string, args: unknown[]) => {
    const now = Date.now();
    if (now - windowStart < intervalMs) {
      suppressed += 1;
      return;
    }
    windowStart = now;
    const { summary, code } = summarize(message, args);
    log.warn({ code, suppressed: suppressed || undefined }, `tracing: ${summary}`);
    suppressed = 0;
  };
  const ignore = () => {};
  return {
    error: (message, ...args) => forward(message, args),
    warn: (message, ...args) => forward(message, args),
    info: ignore,
    debug: ignore,
    verbose: ignore,
  };
}

/** The SDK's error handler hands over errors as JSON text, stack included: keep one line. */
function summarize(message: string, args: unknown[]): { summary: string; code: string | undefined } {
  let summary = message;
  let code: string | undefined;
  if (message.startsWith('{')) {
    try {
      const parsed = JSON.parse(message) as { message?: unknown; code?: unknown };
      if (typeof parsed.message === 'string') summary = `export failed: ${parsed.message}`;
      if (typeof parsed.code === 'string') code = parsed.code;
    } catch {
      // Not JSON after all: keep the text as it is.
    }
  }
  const detail = args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
  const line = `${summary}${detail ? ` ${detail}` : ''}`.replace(/\s+/g, ' ');
  return { summary: line.length > 300 ? `${line.slice(0, 299)}…` : line, code };
}

async function withTimeout(work: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`flush took longer than ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
