import { readdir, readFile } from 'node:fs/promises';
import { CLOCK_TICKS_PER_SECOND, parseProcStat } from './processes.ts';

/** CPU seconds used so far, by part of the machine. */
export interface MachineCpu {
  /** Every process: busy time of all cores from `/proc/stat`. */
  readonly machine: number;
  /** beam.smp and its helpers (erl_child_setup, epmd, inet_gethost). */
  readonly rabbitmq: number;
  /** Every postgres process, plus the backends that already exited (reaped by the postmaster). */
  readonly postgres: number;
  /** This process: the image source, s3rver and the OTLP receiver when they run, and the polling. */
  readonly bench: number;
}

const RABBITMQ_COMMANDS = new Set(['beam.smp', 'erl_child_setup', 'epmd', 'inet_gethost']);

/**
 * Reads the CPU the machine, RabbitMQ, Postgres and this process have used so
 * far. Take one before and one after a run: the differences split the run's
 * CPU per image by process, and what the pipeline's own processes do not
 * account for is everything else on the machine.
 */
export async function machineCpu(): Promise<MachineCpu> {
  let rabbitmq = 0;
  let postgres = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // utime is field 14, stime 15, cutime 16, cstime 17.
    const { command, fields } = parseProcStat(stat);
    const own = (fields[11]! + fields[12]!) / CLOCK_TICKS_PER_SECOND;
    if (RABBITMQ_COMMANDS.has(command)) rabbitmq += own;
    else if (command === 'postgres') postgres += own + (fields[13]! + fields[14]!) / CLOCK_TICKS_PER_SECOND;
  }
  const usage = process.cpuUsage();
  return { machine: await busySeconds(), rabbitmq, postgres, bench: (usage.user + usage.system) / 1e6 };
}

/** user + nice + system + irq + softirq + steal of the `cpu` line: every core's busy time. */
async function busySeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS_PER_SECOND;
}

/** after − before, field by field. */
export function cpuUsedBetween(before: MachineCpu, after: MachineCpu): MachineCpu {
  return {
    machine: after.machine - before.machine,
    rabbitmq: after.rabbitmq - before.rabbitmq,
    postgres: after.postgres - before.postgres,
    bench: after.bench - before.bench,
  };
}
