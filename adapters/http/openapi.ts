import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import swagger, { type SwaggerTransform } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { ROUTE_DOCS } from './route-docs.ts';

/**
 * `GET /openapi.json` (OpenAPI 3.1, whose schemas are JSON Schema as the routes validate with) and the Swagger UI at `/docs`, generated
 * from the routes' own validation schemas (`schemas.ts`) plus a summary and
 * an example answer per route (`route-docs.ts`). Register it before the
 * routes. The UI's assets are read from the installed `@fastify/swagger-ui`
 * package (found from this module at run time, bundled or not) and served by
 * the api itself: nothing is fetched from elsewhere, no validator is called.
 * Registered on `app` itself, not in a plugin of its own, so it sees every route.
 */
export function registerOpenApi(app: FastifyInstance): void {
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

  // In a plugin, so it loads after the swagger plugin and is listed too.
  app.register(async (docs) => {
    docs.get('/openapi.json', async () => app.swagger());
  });
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
