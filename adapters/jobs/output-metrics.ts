import { Counter, type Registry } from 'prom-client';
import { OUTPUT_FORMATS } from '#functions/output-spec.ts';
import type { ProcessImageResult } from '#functions/process-image.ts';

/**
 * `imgpipe_outputs_total{format}`: files a worker wrote, by format. The label
 * is bounded by construction (`jpeg`, `webp`, `avif`, `png`: the job schema
 * admits no other), and every series shows from the first scrape, at zero.
 * Feed it each acknowledged job's result; skips and lost races add nothing.
 *
 * @example
 * // in WorkerMetrics: one more counter in its registry, fed from record()
 * readonly #outputs = new OutputMetrics(this.registry);
 * if ('result' in settlement) this.#outputs.record(settlement.result);
 */
export class OutputMetrics {
  readonly #written: Counter<'format'>;

  constructor(registry: Registry) {
    this.#written = new Counter({
      name: 'imgpipe_outputs_total',
      help: 'Output files written by the worker, by format.',
      labelNames: ['format'],
      registers: [registry],
    });
    for (const format of OUTPUT_FORMATS) this.#written.inc({ format }, 0);
  }

  record(result: Pick<ProcessImageResult, 'outputs'>): void {
    for (const output of result.outputs ?? []) {
      if (output.outcome === 'written') this.#written.inc({ format: output.format });
    }
  }
}
