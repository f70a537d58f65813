import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DocumentedRoute } from './api-docs-app.ts';

/** Headers of the docs app's answer that belong to its own (simulated) connection. */
const CONNECTION_HEADERS = ['connection', 'keep-alive', 'transfer-encoding', 'date'];

/**
 * `GET /openapi.json` (the api as OpenAPI 3.1) and the Swagger UI under
 * `/docs`, generated from the routes' own validation schemas.
 *
 * Swagger, its UI, their static file server and YAML writer are a large part
 * of the api's code and are rarely asked for, so they are not loaded at
 * start: this records every route the app registers (register it before the
 * routes), and the first request under `/openapi.json` or `/docs` loads
 * `api-docs-app.ts`, which builds a small app of their own over those routes;
 * requests are passed to it in-process (`inject`) and its answers passed back
 * as they are. A 404 there is the api's own 404.
 */
export function registerOpenApi(app: FastifyInstance): void {
  const routes: DocumentedRoute[] = [];
  let docsApp: Promise<FastifyInstance> | undefined;

  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    docsApp ??= import('./api-docs-app.ts')
      .then(({ buildApiDocsApp }) => buildApiDocsApp(routes))
      .catch((error: unknown) => {
        // Let the next request try again.
        docsApp = undefined;
        throw error;
      });
    const response = await (await docsApp).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers: request.headers });
    if (response.statusCode === 404) return reply.callNotFound();
    if (response.statusCode >= 500) throw new Error(`the docs app answered ${response.statusCode} to ${request.method} ${request.url}`);
    const headers = { ...response.headers };
    for (const name of CONNECTION_HEADERS) delete headers[name];
    // An empty answer (a redirect, a 304, any HEAD) goes back without a body, so without a content type of ours.
    return reply.code(response.statusCode).headers(headers).send(response.rawPayload.length > 0 ? response.rawPayload : undefined);
  };

  // HEAD routes are Fastify's own copies of the GET routes; the docs app makes its own.
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD' && route.handler !== forward) routes.push({ method: route.method, url: route.url, schema: route.schema, config: route.config });
  });
  app.addHook('onClose', async () => {
    const built = await docsApp?.catch(() => undefined);
    await built?.close();
  });

  // GET and HEAD in one route: Fastify's own HEAD copy would replace the docs app's content-length with the empty body's.
  const methods = ['GET', 'HEAD'];
  app.register(async (docs) => {
    docs.route({ method: methods, url: '/openapi.json', handler: forward });
    docs.register(
      async (ui) => {
        ui.route({ method: methods, url: '/', handler: forward });
        ui.route({ method: methods, url: '/*', handler: forward });
      },
      { prefix: '/docs' },
    );
  });
}
