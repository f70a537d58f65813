import { getNumberFromEnv } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

/**
 * A tracer provider whose spans go, in batches, to the OTLP/HTTP (JSON)
 * `tracesUrl`, with `service.name` = `serviceName` (plus
 * `OTEL_RESOURCE_ATTRIBUTES`, process and host attributes). Loaded by
 * `startTelemetry` only when spans are exported: the SDK, the exporter and
 * its transformer are a large part of every bundle.
 */
export function otlpTracerProvider(serviceName: string, tracesUrl: string): TracerProvider {
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector, processDetector, hostDetector] }))
    .merge(resourceFromAttributes({ 'service.name': serviceName }));
  return new TracerProvider({
    resource,
    spanProcessors: [
      new BatchSpanProcessor({
        // The exporter reads OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_TIMEOUT itself.
        exporter: new OTLPTraceExporter({ url: tracesUrl }),
        maxQueueSize: envNumber('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048,
        maxExportBatchSize: envNumber('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512,
        scheduledDelayMillis: envNumber('OTEL_BSP_SCHEDULE_DELAY') ?? 5_000,
        exportTimeoutMillis: envNumber('OTEL_BSP_EXPORT_TIMEOUT') ?? 15_000,
      }),
    ],
  });
}

function envNumber(name: string): number | undefined {
  const value = getNumberFromEnv(name);
  return value !== undefined && value >= 0 ? value : undefined;
}
