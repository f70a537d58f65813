/**
 * The HTTP baseline: bare Fastify routes with the api's schemas and nothing
 * behind them. `GET /healthz` answers `{ok:true}`; `POST /tasks` validates the
 * body with the api's task schema and answers 202 without publishing.
 * Bundled by the benchmark like the real entries; `PORT` picks the port.
 */
import Fastify from 'fastify';
import { taskSchema } from '#adapters/http/schemas.ts';

const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ ok: true }));
app.post('/tasks', { schema: taskSchema }, async (_request, reply) => reply.code(202).send({ id: 't-0' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
