import type { DeadLetterSummary, ReplayOptions, ReplaySummary } from '#functions/ports.ts';
import { loadConfig } from '#adapters/config.ts';
import { AmqpDeadLetters } from '#adapters/amqp/amqp-dead-letters.ts';
import { PgImagesRepo } from '#adapters/db/pg-images-repo.ts';
import { makeProgress } from './progress.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Test-only: the process kills itself with SIGKILL once this many copies are
 * confirmed, before their dead letters are acked, to prove a crash loses nothing.
 */
const CRASH_HOOK = 'IMGPIPE_TEST_CRASH_AFTER_CONFIRMS';

/** `dlq list` and `dlq replay` talk to the broker (and the database) directly, as the entries configure them. */
async function withDeadLetters<T>(env: Env, use: (dlq: AmqpDeadLetters) => Promise<T>): Promise<T> {
  // The api's settings: the same broker, database and queue names.
  const config = loadConfig(env, 'api');
  const jobs = await PgImagesRepo.connect(config.databaseUrl);
  try {
    const dlq = new AmqpDeadLetters({ url: config.rabbitUrl, config, jobs, connectionName: 'imgpipe cli' });
    return await use(dlq);
  } finally {
    await jobs.close();
  }
}

export async function dlqList(env: Env, newest: number): Promise<DeadLetterSummary> {
  return withDeadLetters(env, (dlq) => dlq.list(newest));
}

export async function dlqReplay(env: Env, options: Omit<ReplayOptions, 'onProgress'>): Promise<ReplaySummary> {
  const crashAfter = Number(env[CRASH_HOOK] ?? 0);
  const progress = makeProgress('dead letters handled');
  let started = false;
  try {
    return await withDeadLetters(env, (dlq) =>
      dlq.replay({
        ...options,
        onProgress: ({ handled, total, replayed }) => {
          if (!started) progress.start(total);
          started = true;
          progress.update(handled);
          if (crashAfter > 0 && replayed >= crashAfter) process.kill(process.pid, 'SIGKILL');
        },
      }),
    );
  } finally {
    progress.stop();
  }
}

export function formatDeadLetters(summary: DeadLetterSummary): string {
  const lines = [`${summary.total} dead letter${summary.total === 1 ? '' : 's'}`];
  const codes = Object.entries(summary.byCode).sort(([, a], [, b]) => b - a);
  const width = Math.max(0, ...codes.map(([code]) => code.length));
  for (const [code, count] of codes) lines.push(`  ${code.padEnd(width)}  ${count}`);
  if (summary.newest.length > 0) {
    lines.push('newest:');
    for (const letter of summary.newest) {
      const attempts = letter.attempts === undefined ? '' : ` (attempts ${letter.attempts})`;
      lines.push(`  ${letter.id ?? '(no id)'}  ${letter.code}  ${letter.message}${attempts}`);
    }
  }
  return lines.join('\n');
}

export function formatReplay(summary: ReplaySummary): string {
  if (summary.dryRun) return `dry run: ${summary.matched} of ${summary.examined} dead letters would be replayed`;
  const failed = summary.failed > 0 ? `, ${summary.failed} refused by the broker (left in the dead-letter queue)` : '';
  return `replayed ${summary.replayed} of ${summary.matched} matching dead letters (${summary.examined} examined)${failed}`;
}
