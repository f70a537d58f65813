import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { httpAppWithFakes, type HttpAppHarness } from '#test/support/http-app-harness.ts';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly reqId?: string;
  readonly req?: { url?: string };
  readonly res?: { statusCode?: number };
  readonly checks?: Record<string, string>;
}

const WARN = 40;

/** Every line an info-level logger (the entries' default) writes, parsed, as it is written. */
class LogSink extends EventEmitter {
  readonly lines: LogLine[] = [];
  readonly logger = pino(
    { level: 'info' },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const text of chunk.toString().split('\n').filter(Boolean)) {
          const line = JSON.parse(text) as LogLine;
          this.lines.push(line);
          this.emit('line', line);
        }
        done();
      },
    }),
  );

  /** The first line, written or still to come, that `matches`. */
  async next(matches: (line: LogLine) => boolean): Promise<LogLine> {
    const written = this.lines.find(matches);
    if (written) return written;
    for (;;) {
      const [line] = (await once(this, 'line')) as [LogLine];
      if (matches(line)) return line;
    }
  }
}

/**
 * Sends a request that is logged and waits for its last line: lines are written
 * in order, so whatever the requests before it were to log is written by then.
 */
async function loggedSoFar(app: HttpAppHarness['app'], sink: LogSink): Promise<readonly LogLine[]> {
  await app.inject({ method: 'GET', url: '/log-marker' });
  const incoming = await sink.next((line) => line.msg === 'incoming request' && line.req?.url === '/log-marker');
  await sink.next((line) => line.msg === 'request completed' && line.reqId === incoming.reqId);
  return sink.lines.filter((line) => line.reqId !== incoming.reqId);
}

describe('GET /healthz in the request log', () => {
  let harness: HttpAppHarness;

  afterEach(async () => {
    await harness?.app.close();
  });

  it('writes no line for a successful probe, while other routes log their requests', async () => {
    const sink = new LogSink();
    harness = httpAppWithFakes({ rows: 1, logger: sink.logger });

    const ready = await harness.app.inject({ method: 'GET', url: '/healthz' });
    const live = await harness.app.inject({ method: 'GET', url: '/healthz?probe=live' });
    const enqueue = await harness.app.inject({ method: 'POST', url: '/enqueue' });
    const lines = await loggedSoFar(harness.app, sink);

    assert.deepEqual([ready.statusCode, live.statusCode, enqueue.statusCode], [200, 200, 200]);
    const requestLines = lines.filter((line) => line.reqId !== undefined);
    assert.deepEqual(requestLines.map((line) => line.msg), ['incoming request', 'request completed'], 'only the enqueue wrote request lines');
    assert.equal(requestLines[0]?.req?.url, '/enqueue');
  });

  it('logs a probe that finds a dependency down at warn, naming it', async () => {
    const sink = new LogSink();
    harness = httpAppWithFakes({ logger: sink.logger });
    harness.publisher.refuse = true;

    const response = await harness.app.inject({ method: 'GET', url: '/healthz' });
    const lines = await loggedSoFar(harness.app, sink);

    const line = lines.find((candidate) => candidate.msg === 'not ready');
    assert.ok(line, 'a line says the api is not ready');
    assert.equal(response.statusCode, 503);
    assert.equal(line.level, WARN);
    assert.equal(line.checks?.database, 'up');
    assert.match(line.checks?.broker ?? '', /^down: /);
  });

  it('logs a refused probe at warn with its request and status', async () => {
    const sink = new LogSink();
    harness = httpAppWithFakes({ logger: sink.logger });

    const response = await harness.app.inject({ method: 'GET', url: '/healthz?probe=deep' });
    const lines = await loggedSoFar(harness.app, sink);

    const line = lines.find((candidate) => candidate.msg === 'probe failed');
    assert.ok(line, 'a line says the probe failed');
    assert.equal(response.statusCode, 400);
    assert.equal(line.level, WARN);
    assert.equal(line.res?.statusCode, 400);
    assert.equal(line.req?.url, '/healthz?probe=deep');
  });
});
