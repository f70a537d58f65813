import cliProgress from 'cli-progress';

/** Progress of long work on stderr, so stdout stays clean for `--json`. */
export interface Progress {
  start(total: number): void;
  update(done: number): void;
  stop(): void;
}

/**
 * A bar when stderr is a terminal; elsewhere (a script, CI, a test) one
 * `progress done/total (p%)` line every 10 %, so logs stay short.
 *
 * @example
 * const progress = makeProgress('replayed'); progress.start(50); progress.update(5); progress.stop();
 */
export function makeProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: ` {bar} {percentage}% | {value}/{total} ${label}`, hideCursor: true, stream },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total) => bar.start(total, 0),
      update: (done) => bar.update(done),
      stop: () => bar.stop(),
    };
  }
  let total = 0;
  let lastStep = -1;
  return {
    start(value) {
      total = value;
      lastStep = -1;
    },
    update(done) {
      if (total === 0) return;
      const step = Math.floor((Math.min(done, total) / total) * 10);
      if (step === lastStep) return;
      lastStep = step;
      stream.write(`progress ${done}/${total} (${Math.floor((done / total) * 100)}%) ${label}\n`);
    },
    stop() {},
  };
}
