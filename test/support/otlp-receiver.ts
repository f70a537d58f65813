import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

/** OTLP span kinds as they travel on the wire (the API's enum plus one). */
export const OtlpSpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
/** OTLP status codes. */
export const OtlpStatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type AttributeValue = string | number | boolean | null | AttributeValue[];

export interface ReceivedSpan {
  /** The resource's `service.name`. */
  readonly serviceName: string;
  readonly resource: Readonly<Record<string, AttributeValue>>;
  /** The instrumentation scope (tracer) name. */
  readonly scope: string;
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** See {@link OtlpSpanKind}. */
  readonly kind: number;
  readonly status: { readonly code: number; readonly message: string | undefined };
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Readonly<Record<string, AttributeValue>> }>;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: what OTEL_EXPORTER_OTLP_ENDPOINT takes. */
  readonly baseUrl: string;
  /** `<baseUrl>/v1/traces` */
  readonly tracesUrl: string;
  /** Every span received so far, in arrival order. */
  readonly spans: readonly ReceivedSpan[];
  /** How many export requests were accepted. */
  readonly requests: number;
  /**
   * Resolves with the spans matching `predicate` once at least `count` of them
   * arrived; rejects after `timeoutMs`, listing what did arrive.
   */
  waitForSpans(predicate: (span: ReceivedSpan) => boolean, timeoutMs?: number, count?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: OtlpKeyValue[];
  events?: Array<{ name: string; attributes?: OtlpKeyValue[] }>;
  status?: { code?: number; message?: string };
}

interface OtlpTraceRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: OtlpSpan[] }>;
  }>;
}

/**
 * A local OTLP/HTTP trace receiver on 127.0.0.1, for tests: accepts
 * `POST /v1/traces` with the JSON encoding (gzip or not) and keeps every span
 * with its service name. Protobuf bodies are answered 415 Unsupported Media Type.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;

  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://receiver').pathname;
    if (path !== '/v1/traces') {
      response.writeHead(404).end();
      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      request.resume();
      response.writeHead(415, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `${type} is not supported; send application/json` }));
      return;
    }
    readBody(request).then(
      (body) => {
        let parsed: OtlpTraceRequest;
        try {
          parsed = JSON.parse(body.toString('utf8')) as OtlpTraceRequest;
        } catch {
          response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'invalid JSON' }));
          return;
        }
        requests += 1;
        spans.push(...flatten(parsed));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        for (const wake of waiters) wake();
      },
      () => response.writeHead(400).end(),
    );
  });
  const { port } = await listenOnLoopback(server);
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    tracesUrl: `${baseUrl}/v1/traces`,
    spans,
    get requests() {
      return requests;
    },
    waitForSpans(predicate, timeoutMs = 10_000, count = 1) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = spans.filter(predicate);
          if (matching.length >= count) {
            cleanup();
            resolve(matching);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          const seen = spans.map((span) => `${span.serviceName}/${span.name}`).join(', ') || 'none';
          reject(new Error(`fewer than ${count} matching spans within ${timeoutMs} ms; received: ${seen}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

function flatten(request: OtlpTraceRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    const serviceName = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span): ReceivedSpan => ({
        serviceName,
        resource,
        scope: scopeSpans.scope?.name ?? '',
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId || undefined,
        name: span.name,
        kind: span.kind ?? 0,
        status: { code: span.status?.code ?? 0, message: span.status?.message || undefined },
        attributes: attributesOf(span.attributes),
        events: (span.events ?? []).map((event) => ({ name: event.name, attributes: attributesOf(event.attributes) })),
      })),
    );
  });
}

function attributesOf(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

function valueOf(value: OtlpAnyValue | undefined): AttributeValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.kvlistValue !== undefined) return JSON.stringify(attributesOf(value.kvlistValue.values));
  return null;
}
