import type { FastifyInstance } from 'fastify';
import type { DeadLetterQueue } from '#functions/ports.ts';
import { dlqListSchema, dlqReplaySchema, type DlqListQuery, type DlqReplayBody } from './schemas.ts';

/**
 * The dead-letter queue over HTTP, as the CLI's `dlq` commands offer it:
 *
 * - `GET /dlq?newest=N` → counts by error code and the newest N (default 10);
 * - `POST /dlq/replay` `{ code?, id?, limit?, dryRun? }` → the replay's summary.
 *
 * @example
 * app.register(dlqRoute, { deadLetters });
 */
export async function dlqRoute(app: FastifyInstance, deps: { deadLetters: DeadLetterQueue }): Promise<void> {
  app.get<{ Querystring: DlqListQuery }>('/dlq', { schema: dlqListSchema }, async (request) => deps.deadLetters.list(request.query.newest));

  app.post<{ Body: DlqReplayBody | undefined }>('/dlq/replay', { schema: dlqReplaySchema }, async (request) => {
    const { code, id, limit, dryRun } = request.body ?? {};
    return deps.deadLetters.replay({ code, id, limit, dryRun });
  });
}
