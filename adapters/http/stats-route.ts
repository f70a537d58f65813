import type { FastifyInstance } from 'fastify';

/**
 * `GET /stats`: the local host's job counters as JSON, for `npm run demo`'s
 * progress and for anyone watching a run.
 */
export function registerStatsRoute(app: FastifyInstance, stats: () => Record<string, unknown>): void {
  app.get('/stats', async () => stats());
}
