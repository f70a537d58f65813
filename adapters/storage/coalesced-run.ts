/**
 * Wraps `run` (e.g. an fsync of a directory) so that concurrent callers share
 * runs: a call made while no run is going starts one; calls made while one is
 * going wait for the next run, which starts when the current one ends, so
 * every caller is covered by a run that started after it called. N writers
 * finishing together cost two runs instead of N. A failed run rejects every
 * caller that shared it.
 *
 * @example
 * const syncDir = coalescedRun(() => fsyncDirectory(dir));
 * await syncDir(); // after link(): the new entry is durable
 */
export function coalescedRun(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = (): Promise<void> => {
    const current: Promise<void> = run().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  };
  return () => {
    if (!running) return start();
    next ??= running
      .catch(() => {})
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}
