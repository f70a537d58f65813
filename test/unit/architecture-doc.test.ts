import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { variablesLoadConfigReads } from '#test/support/config-variables.ts';

const ARCHITECTURE = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');

/** The `NAME`s in the first column of the Configuration table. */
function documentedVariables(): Set<string> {
  const section = ARCHITECTURE.split(/^## /m).find((part) => part.startsWith('Configuration\n'));
  assert.ok(section, 'docs/architecture.md has a Configuration section');
  const firstCells = section.split('\n').flatMap((line) => (line.startsWith('| `') ? [line.split('|')[1]!] : []));
  return new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]!)));
}

describe('docs/architecture.md', () => {
  it('documents exactly the variables adapters/config.ts reads', () => {
    const documented = documentedVariables();

    const read = variablesLoadConfigReads();

    assert.deepEqual([...documented].sort(), [...read].sort());
  });
});
