/**
 * `imgpipe`, the command line: `npm run cli -- <command>` from a checkout, or
 * the package's `bin`. Commands about jobs go through the api at `IMGPIPE_API`
 * (default http://127.0.0.1:8000, key from `IMGPIPE_API_KEY`); `dlq` talks to
 * the broker and the database directly, configured by the same variables as
 * the entries (`RABBIT_URL`, `DATABASE_URL`, `DLQ`, …). `--json` prints one
 * JSON document on stdout; progress goes to stderr. A failure is one line on
 * stderr and exit code 1 (2 for a usage error).
 */
import { parseArgs } from 'node:util';
import { errorSummary } from '#functions/errors.ts';
import { ApiClient } from './api-client.ts';
import { enqueueCommand, formatJob, formatStatus, jobCommand, statusCommand, taskCommand } from './api-commands.ts';
import { CliError } from './cli-error.ts';
import { dlqList, dlqReplay, formatDeadLetters, formatReplay } from './dlq-commands.ts';

const USAGE = `usage: imgpipe <command> [options] [--json]

  enqueue [--limit N] [--wait]         publish up to N pending rows (default 200);
                                       --wait shows their progress until they end
  task <url> [--op OP]... [--id ID] [--wait]
                                       publish one task; prints its id (--wait: its record once ended)
  job <id> [--wait]                    a job's state, attempts, output or error
  status                               rows, jobs, queue, throughput, latest failures
  dlq list [--newest N]                dead letters by error code, and the newest N (default 10)
  dlq replay [--code C] [--id ID] [--limit N] [--dry-run]
                                       send dead letters back to the queue

environment: IMGPIPE_API (default http://127.0.0.1:8000), IMGPIPE_API_KEY,
             RABBIT_URL, DATABASE_URL and the topology names for dlq`;

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  limit: { type: 'string' },
  newest: { type: 'string' },
  op: { type: 'string', multiple: true },
  id: { type: 'string' },
  code: { type: 'string' },
  'dry-run': { type: 'boolean' },
  wait: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${errorSummary(error)} (see imgpipe --help)`, 2);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  const api = new ApiClient({ baseUrl: env.IMGPIPE_API?.trim() || 'http://127.0.0.1:8000', apiKey: env.IMGPIPE_API_KEY?.trim() || undefined });
  const print = (json: unknown, text: string) => process.stdout.write(`${values.json ? JSON.stringify(json) : text}\n`);

  switch (command) {
    case 'enqueue': {
      const result = await enqueueCommand(api, positiveInt(values.limit, '--limit'), values.wait === true);
      const ended = result.processed === undefined ? '' : `; ${result.processed} processed, ${result.failed} failed`;
      print(result, `enqueued ${result.enqueued}${ended}`);
      return result.failed ? 1 : 0;
    }
    case 'task': {
      const url = single(rest, '<url>');
      const { id } = await taskCommand(api, url, values.op, values.id);
      if (!values.wait) {
        print({ id }, id);
        return 0;
      }
      const job = await jobCommand(api, id, true);
      print(job, formatJob(job));
      return job.state === 'failed' ? 1 : 0;
    }
    case 'job': {
      const job = await jobCommand(api, single(rest, '<id>'), values.wait === true);
      print(job, formatJob(job));
      return 0;
    }
    case 'status': {
      const status = await statusCommand(api);
      print(status, formatStatus(status));
      return 0;
    }
    case 'dlq': {
      const [sub] = rest;
      if (sub === 'list') {
        const summary = await dlqList(env, positiveInt(values.newest, '--newest') ?? 10);
        print(summary, formatDeadLetters(summary));
        return 0;
      }
      if (sub === 'replay') {
        const summary = await dlqReplay(env, {
          code: values.code,
          id: values.id,
          limit: positiveInt(values.limit, '--limit'),
          dryRun: values['dry-run'] === true,
        });
        print(summary, formatReplay(summary));
        return summary.failed > 0 ? 1 : 0;
      }
      throw new CliError('dlq needs list or replay (see imgpipe --help)', 2);
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)} (see imgpipe --help)`, 2);
  }
}

function single(rest: readonly string[], name: string): string {
  if (rest.length !== 1 || !rest[0]) throw new CliError(`expected one ${name} (see imgpipe --help)`, 2);
  return rest[0];
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliError(`${name} must be a whole number from 1`, 2);
  return Number(value);
}

/** Runs {@link main} for the process: one line on stderr for any failure, and the exit code. */
export async function run(): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2), process.env);
  } catch (error) {
    const exitCode = error instanceof CliError ? error.exitCode : 1;
    process.stderr.write(`imgpipe: ${error instanceof CliError ? error.message : errorSummary(error)}\n`);
    process.exitCode = exitCode;
  }
}
