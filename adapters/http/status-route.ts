import type { FastifyInstance } from 'fastify';
import { thumbnailKey } from '#functions/job.ts';
import { pipelineStatus, type PipelineStatusDeps } from '#functions/pipeline-status.ts';
import type { ImageStore } from '#functions/ports.ts';
import { thumbnailSchema, type ThumbnailParams } from './schemas.ts';
import { renderStatusPage } from './status-page.ts';

export interface StatusRouteDeps extends PipelineStatusDeps {
  /** Where `GET /thumbnails/<id>.jpg` reads from; the route exists only when given. */
  readonly thumbnails?: Pick<ImageStore, 'read'> | undefined;
}

/**
 * - `GET /` → the status page (HTML, see `status-page.ts`);
 * - `GET /status` → the same report as JSON, for scripts and the CLI;
 * - `GET /thumbnails/<id>.jpg` → a job's thumbnail from the store (id validated), 404 when absent.
 *
 * @example
 * app.register(statusRoute, { jobs, queue, clock, thumbnails: store });
 */
export async function statusRoute(app: FastifyInstance, deps: StatusRouteDeps): Promise<void> {
  app.get('/', async (_request, reply) => {
    const status = await pipelineStatus(deps);
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderStatusPage(status));
  });

  app.get('/status', async (_request, reply) => reply.header('cache-control', 'no-store').send(await pipelineStatus(deps)));

  const store = deps.thumbnails;
  if (!store) return;
  app.get<{ Params: ThumbnailParams }>('/thumbnails/:file', { schema: thumbnailSchema }, async (request, reply) => {
    const id = request.params.file.slice(0, -'.jpg'.length);
    const object = await store.read(thumbnailKey(id));
    if (!object) return reply.code(404).send({ error: 'NOT_FOUND', message: `no thumbnail for job ${id}` });
    // An output never changes once written; private, as the api may need a key.
    return reply.type(object.contentType ?? 'image/jpeg').header('cache-control', 'private, max-age=86400').send(Buffer.from(object.data));
  });
}
