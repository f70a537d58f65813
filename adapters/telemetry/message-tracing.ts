import { context, propagation, SpanKind, trace, type Attributes, type Span } from '@opentelemetry/api';
import { failSpan } from '#functions/traced-step.ts';

const tracer = trace.getTracer('imgpipe-amqp');

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
  const span = tracer.startSpan(`publish ${destination.exchange}`, {
    kind: SpanKind.PRODUCER,
    attributes: messagingAttributes(destination, messageId, 'publish'),
  });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return {
    headers,
    end(error?: unknown) {
      if (error !== undefined) failSpan(span, error);
      span.end();
    },
  };
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
