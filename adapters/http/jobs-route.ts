import type { FastifyInstance } from 'fastify';
import { jobStatus, type JobStatusDeps } from '#functions/job-status.ts';
import { jobRecordSchema, type JobParams } from './schemas.ts';

/**
 * `GET /jobs/:id` → 200 with the job's record, 404 `{ error: 'NOT_FOUND' }` for
 * an id no job was published under, 400 for an id outside the job id rules.
 *
 * @example
 * app.register(jobsRoute, { jobs });
 */
export async function jobsRoute(app: FastifyInstance, deps: JobStatusDeps): Promise<void> {
  app.get<{ Params: JobParams }>('/jobs/:id', { schema: jobRecordSchema }, async (request, reply) => {
    const record = await jobStatus({ id: request.params.id }, deps);
    if (!record) return reply.code(404).send({ error: 'NOT_FOUND', message: `no job with id ${request.params.id}` });
    return record;
  });
}
