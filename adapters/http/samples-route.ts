import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { renderSampleImage } from '#adapters/samples/sample-image.ts';
import { sampleSchema, type SampleParams } from './schemas.ts';

/**
 * The offline, picsum-style sample image source (docs/architecture.md,
 * "Offline by default"): `GET /samples/seed/<seed>/<width>/<height>` answers a JPEG made
 * from the seed, the same bytes every time, so it is cached forever and
 * revalidated by a strong ETag. Sides are 1..2048; anything else is a 400 that
 * names the parameter.
 *
 * @example
 * app.register(samplesRoute); // PICSUM_URL=http://127.0.0.1:8000/samples
 */
export async function samplesRoute(app: FastifyInstance): Promise<void> {
  app.get<{ Params: SampleParams }>('/samples/seed/:seed/:width/:height', { schema: sampleSchema }, async (request, reply) => {
    const { seed, width, height } = request.params;
    const jpeg = await renderSampleImage(seed, width, height);
    const etag = `"${createHash('sha256').update(jpeg).digest('base64url').slice(0, 27)}"`;
    reply.header('cache-control', 'public, max-age=31536000, immutable').header('etag', etag);
    if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('image/jpeg').send(jpeg);
  });
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}
