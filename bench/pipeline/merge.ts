/**
 * Merges the `--json` outputs of several benchmark invocations into one table
 * of medians over all their runs (e.g. the large-input figure run on its own).
 *
 * node --import tsx bench/pipeline/merge.ts a.json b.json …
 */
import { readFile } from 'node:fs/promises';
import type { Figure } from './figure.ts';
import { renderTable, summarise } from './table.ts';

const runs: Figure[][] = [];
for (const file of process.argv.slice(2)) {
  const saved = JSON.parse(await readFile(file, 'utf8')) as { runs: Figure[][] };
  runs.push(...saved.runs);
}
console.log(renderTable(summarise(runs)));
