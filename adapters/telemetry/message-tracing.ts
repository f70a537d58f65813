import { context, isSpanContextValid, propagation, SpanKind, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { failSpan } from '#functions/traced-step.ts';

const TRACER_NAME = 'imgpipe-amqp';
const tracer = trace.getTracer(TRACER_NAME);

export interface Destination {
  readonly exchange: string;
  readonly routingKey: string;
}

export interface ProducerSpan {
  /** W3C `traceparent`/`tracestate` to put in the message headers. */
  readonly headers: Record<string, string>;
  end(error?: unknown): void;
}

function messagingAttributes(destination: Destination, messageId: string, operation: string): Attributes {
  return {
    'messaging.system': 'rabbitmq',
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': destination.exchange,
    'messaging.rabbitmq.destination.routing_key': destination.routingKey,
    'messaging.message.id': messageId,
  };
}

/**
 * Opens one producer span for one message, as a child of the active span (the
 * HTTP request), and returns the headers that carry its context to the consumer.
 * End it once the broker confirmed (or refused) the message.
 */
export function startProducerSpan(destination: Destination, messageId: string): ProducerSpan {
  return openProducerSpan(trace.getTracer(TRACER_NAME), destination, messageId, context.active()).producer;
}

/**
 * {@link startProducerSpan} for a batch of messages to one destination, all
 * children of the span active now. When the tracer makes no spans of its own
 * (no SDK registered: every "span" is the parent's context passed through),
 * every message gets the same headers and nothing to end, so a batch of
 * thousands allocates one producer span instead of one per message; the
 * consumer still joins the request's trace.
 *
 * @example
 * const spanFor = producerSpans(destination);
 * for (const job of jobs) publish(job, spanFor(job.id).headers);
 */
export function producerSpans(destination: Destination): (messageId: string) => ProducerSpan {
  // Looked up per batch, like the HTTP span's tracer: one taken at import stays
  // bound to the first provider registered.
  const batchTracer = trace.getTracer(TRACER_NAME);
  const parent = context.active();
  let shared: ProducerSpan | undefined;
  return (messageId) => {
    if (shared) return shared;
    const { span, producer } = openProducerSpan(batchTracer, destination, messageId, parent);
    if (passesParentThrough(span, parent)) shared = { headers: producer.headers, end() {} };
    return producer;
  };
}

function openProducerSpan(
  producerTracer: Tracer,
  destination: Destination,
  messageId: string,
  parent: Context,
): { span: Span; producer: ProducerSpan } {
  const span = producerTracer.startSpan(
    `publish ${destination.exchange}`,
    { kind: SpanKind.PRODUCER, attributes: messagingAttributes(destination, messageId, 'publish') },
    parent,
  );
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  return {
    span,
    producer: {
      headers,
      end(error?: unknown) {
        if (error !== undefined) failSpan(span, error);
        span.end();
      },
    },
  };
}

/**
 * True for the API's no-op tracer: a span that records nothing and carries its
 * parent's context (or none). A sampling SDK that drops a span still gives it
 * an id of its own, so its spans are never taken for pass-throughs.
 */
function passesParentThrough(span: Span, parent: Context): boolean {
  if (span.isRecording()) return false;
  const own = span.spanContext();
  const inherited = trace.getSpanContext(parent);
  if (!isSpanContextValid(own)) return true;
  return inherited !== undefined && own.traceId === inherited.traceId && own.spanId === inherited.spanId;
}

/**
 * Runs `handle` inside the consumer span `handle_task`, a child of the producer
 * span whose context came in the message headers.
 */
export function withConsumerSpan<T>(
  headers: Record<string, unknown> | undefined,
  destination: Destination,
  messageId: string,
  handle: (span: Span) => Promise<T>,
): Promise<T> {
  const carrier: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string') carrier[key] = value;
    else if (Buffer.isBuffer(value)) carrier[key] = value.toString('utf8');
  }
  const parent = propagation.extract(context.active(), carrier);
  return tracer.startActiveSpan(
    'handle_task',
    { kind: SpanKind.CONSUMER, attributes: messagingAttributes(destination, messageId, 'process') },
    parent,
    async (span) => {
      try {
        return await handle(span);
      } catch (error) {
        failSpan(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
