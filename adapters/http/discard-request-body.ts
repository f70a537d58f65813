import type { IncomingMessage } from 'node:http';

/** Up to this much of a refused body is read and dropped before the answer: a 2 MB upload gets its 413. */
export const DISCARD_MAX_BYTES = 8 * 1024 * 1024;
/** A client slower than this gets its answer anyway, on a connection that then closes. */
export const DISCARD_MAX_MS = 10_000;

/**
 * Reads and drops what is left of a request body the app refused (413, 415,
 * bad JSON), up to `DISCARD_MAX_BYTES` or `DISCARD_MAX_MS`. Such answers close
 * the connection; closing it while the client is still sending makes the
 * kernel reset it, and the client sees EPIPE instead of the answer.
 */
export function discardRequestBody(request: IncomingMessage, maxBytes = DISCARD_MAX_BYTES, maxMs = DISCARD_MAX_MS): Promise<void> {
  if (request.complete || request.readableEnded || request.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received > maxBytes) finish();
    };
    const finish = () => {
      clearTimeout(timer);
      request.off('data', onData).off('end', finish).off('close', finish).off('error', finish);
      resolve();
    };
    const timer = setTimeout(finish, maxMs);
    request.on('data', onData).once('end', finish).once('close', finish).once('error', finish);
    request.resume();
  });
}
