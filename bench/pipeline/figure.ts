/** One measured figure and the baseline it is compared with, both from the same run. */
export interface Figure {
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baselineName: string;
  readonly baseline: number;
  /** What the issue asks of value / baseline (or of the value itself, when said so). */
  readonly target: string;
}

/** value / baseline; NaN (shown as n/a) when the baseline is 0, e.g. a p99 below autocannon's 1 ms resolution. */
export function ratioOf(figure: Pick<Figure, 'value' | 'baseline'>): number {
  return figure.baseline === 0 ? Number.NaN : figure.value / figure.baseline;
}
