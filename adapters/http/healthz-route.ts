import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import { healthz, type HealthzDeps } from '#functions/healthz.ts';
import { healthzSchema, type HealthzQuery } from './schemas.ts';

/**
 * `GET /healthz` → readiness: 200, or 503 with `checks` per dependency;
 * `GET /healthz?probe=live` → 200 `{ ok: true }`, touching no dependency.
 *
 * Probes arrive every few seconds from every kubelet and load balancer, so a
 * successful one logs nothing: the route logs at `warn` and up, which drops
 * Fastify's two request lines (incoming, completed). A probe that fails is
 * logged at warn: a 503 with the checks that failed ("not ready"), any other
 * refusal (a bad `probe`, an error) with its request and status ("probe
 * failed"). It is not traced either (`UNTRACED` in build-http-app.ts), and
 * still counted in the request metrics.
 *
 * @example
 * app.register(healthzRoute, { dependencies });
 */
export async function healthzRoute(app: FastifyInstance, deps: HealthzDeps): Promise<void> {
  app.get<{ Querystring: HealthzQuery }>('/healthz', { schema: healthzSchema, logLevel: 'warn', onResponse: logRefusedProbe }, async (request, reply) => {
    const report = await healthz({ probe: request.query.probe }, deps);
    if (!report.ok) request.log.warn({ probe: request.query.probe, checks: report.checks }, 'not ready');
    return reply.code(report.ok ? 200 : 503).send(report);
  });
}

/** Answers other than 200 and the handler's own 503 (already logged with its checks). */
const logRefusedProbe: onResponseHookHandler = (request, reply, done) => {
  const status = reply.statusCode;
  if (status !== 200 && status !== 503) reply.log.warn({ req: request, res: reply, responseTime: reply.elapsedTime }, 'probe failed');
  done();
};
