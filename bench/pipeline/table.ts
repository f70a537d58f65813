import { ratioOf, type Figure } from './figure.ts';

export interface Summary {
  readonly section: string;
  readonly name: string;
  readonly unit: string;
  readonly baselineName: string;
  readonly target: string;
  readonly value: number;
  readonly baseline: number;
  /** Median of the per-run ratios (not the ratio of the medians). */
  readonly ratio: number;
  readonly runs: number;
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Groups the figures of every run by section, name and baseline, keeping first-seen order. */
export function summarise(runs: readonly (readonly Figure[])[]): Summary[] {
  const groups = new Map<string, Figure[]>();
  for (const figure of runs.flat()) {
    const key = `${figure.section}\u0000${figure.name}\u0000${figure.baselineName}`;
    groups.set(key, [...(groups.get(key) ?? []), figure]);
  }
  return [...groups.values()].map((figures) => {
    const first = figures[0]!;
    return {
      section: first.section,
      name: first.name,
      unit: first.unit,
      baselineName: first.baselineName,
      target: first.target,
      value: median(figures.map((figure) => figure.value)),
      baseline: median(figures.map((figure) => figure.baseline)),
      ratio: median(figures.map(ratioOf)),
      runs: figures.length,
    };
  });
}

function format(value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A Markdown table, so it can go into docs/performance.md as it is. */
export function renderTable(summaries: readonly Summary[]): string {
  const header = ['section', 'figure', 'value', 'baseline (same run)', 'ratio', 'target', 'runs'];
  const rows = summaries.map((summary) => [
    summary.section,
    summary.name,
    `${format(summary.value)} ${summary.unit}`,
    `${summary.baselineName}: ${format(summary.baseline)} ${summary.unit}`,
    format(summary.ratio),
    summary.target,
    String(summary.runs),
  ]);
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
