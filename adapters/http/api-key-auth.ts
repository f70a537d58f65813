import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Routes open without the key: probes, and the sample images workers download without one. */
const OPEN_ROUTES = (path: string) => path === '/healthz' || path.startsWith('/samples/');

const CHALLENGES = ['Bearer realm="imgpipe"', 'Basic realm="imgpipe", charset="UTF-8"'];

/**
 * Requires `API_KEY` on every route but the open ones, as
 * `Authorization: Bearer <key>` or as the password of HTTP Basic auth (any user
 * name), so a browser can open the status page. Keys are compared as SHA-256
 * digests with `timingSafeEqual`: equal lengths, constant time. A missing or
 * wrong key gets a 401 with both challenges in `WWW-Authenticate`; the header
 * is never logged (the logger redacts it).
 *
 * @example
 * app.register(apiKeyAuth, { apiKey: config.apiKey }); // a no-op when the key is unset
 */
export function apiKeyAuth(app: FastifyInstance, apiKey: string): void {
  const expected = digest(apiKey);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (OPEN_ROUTES(request.url.split('?', 1)[0] ?? '')) return;
    const presented = presentedKey(request.headers.authorization);
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return;
    return reply
      .code(401)
      .header('www-authenticate', CHALLENGES)
      .send({ error: 'UNAUTHORIZED', message: 'this api needs its key: Authorization: Bearer <key>, or the password of Basic auth' });
  });
}

function presentedKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value = ''] = header.trim().split(/\s+/, 2);
  switch (scheme?.toLowerCase()) {
    case 'bearer':
      return value;
    case 'basic': {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon === -1 ? undefined : decoded.slice(colon + 1);
    }
    default:
      return undefined;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
