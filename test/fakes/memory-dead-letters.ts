import type { DeadLetter, DeadLetterQueue, DeadLetterSummary, JobsRepo, ReplayOptions, ReplaySummary } from '#functions/ports.ts';

/** In-memory {@link DeadLetterQueue}: `letters` oldest first; a replay moves matches to `replayed`. */
export class MemoryDeadLetters implements DeadLetterQueue {
  readonly replayed: DeadLetter[] = [];

  constructor(readonly letters: DeadLetter[] = [], private readonly jobs?: Pick<JobsRepo, 'clearFailed'>) {}

  async list(newest: number): Promise<DeadLetterSummary> {
    const byCode: Record<string, number> = {};
    for (const letter of this.letters) byCode[letter.code] = (byCode[letter.code] ?? 0) + 1;
    return { total: this.letters.length, byCode, newest: [...this.letters].reverse().slice(0, newest) };
  }

  async replay(options: ReplayOptions): Promise<ReplaySummary> {
    const examined = this.letters.length;
    const matching = this.letters
      .filter((letter) => (options.code === undefined || letter.code === options.code) && (options.id === undefined || letter.id === options.id))
      .slice(0, options.limit ?? Number.POSITIVE_INFINITY);
    if (!options.dryRun) {
      await this.jobs?.clearFailed(matching.flatMap((letter) => (letter.id ? [letter.id] : [])));
      for (const letter of matching) {
        this.letters.splice(this.letters.indexOf(letter), 1);
        this.replayed.push(letter);
        options.onProgress?.({ handled: this.replayed.length, total: matching.length, replayed: this.replayed.length });
      }
    }
    return { examined, matched: matching.length, replayed: options.dryRun ? 0 : matching.length, failed: 0, dryRun: options.dryRun === true };
  }
}
