import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { ROUTE_DOCS } from './route-docs.ts';

/** What the document needs of an api route: how it is called and its validation schema. */
export type DocumentedRoute = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>;

/**
 * The app behind `GET /openapi.json` and `/docs` (see `openapi.ts`, which
 * loads this module on the first such request): `@fastify/swagger` over the
 * api's routes, replayed here with their schemas and no handler, and the
 * Swagger UI from `@fastify/swagger-ui`. The document is OpenAPI 3.1, whose
 * schemas are JSON Schema as the routes validate with, plus a summary and an
 * example answer per route (`route-docs.ts`). The UI's assets are read from
 * the installed package (found from this module at run time, bundled or not)
 * and served by the api itself: nothing is fetched from elsewhere, no
 * validator is called.
 */
export async function buildApiDocsApp(routes: readonly DocumentedRoute[]): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  // The routes are here to be documented, not called: their schemas are never compiled.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'imgpipe',
        version: '0.1.0',
        description: 'Image pipeline api. With API_KEY set, every route but /healthz and /samples needs it (Bearer, or the password of Basic auth).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          basic: { type: 'http', scheme: 'basic' },
        },
      },
      security: [{ bearer: [] }, { basic: [] }],
    },
    transform: documented,
  });

  const staticDir = join(dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json')), 'static');
  app.register(swaggerUi, {
    routePrefix: '/docs',
    // Where the UI's own files are; also keeps the plugin from looking beside itself, which a bundle cannot.
    baseDir: staticDir,
    logo: { type: 'image/svg+xml', content: readFileSync(join(staticDir, 'logo.svg')) },
    uiConfig: { deepLinking: true, validatorUrl: null } as Record<string, unknown>,
  });

  // In plugins, so they load after the swagger plugin and are listed too.
  app.register(async (docs) => {
    docs.get('/openapi.json', async () => app.swagger());
  });
  app.register(async (api) => {
    for (const { method, url, schema, config } of routes) {
      api.route({ method, url, schema, config, handler: async () => undefined });
    }
  });
  await app.ready();
  return app;
}

/** A route's schema, as the document shows it: its validation schema plus its summary and example answers. */
const documented: SwaggerTransform = ({ schema, url, route }) => {
  const method = Array.isArray(route.method) ? route.method[0] : route.method;
  const doc = ROUTE_DOCS[`${method} ${route.url}`];
  if (!doc) return { schema, url };
  return {
    schema: { ...schema, summary: doc.summary, description: doc.description, response: doc.response, ...(doc.open ? { security: [] } : {}) },
    url,
  } as ReturnType<SwaggerTransform>;
};
