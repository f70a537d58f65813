// Runs node's test runner over every `*.test.ts` below the given folders
// (default: test/), with tsx loading TypeScript. Node 20's runner takes no globs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const roots = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const passThrough = process.argv.slice(2).filter((arg) => arg.startsWith('--'));

function findTests(dir) {
  if (dir.endsWith('.test.ts')) return [dir];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = (roots.length > 0 ? roots : ['test']).flatMap(findTests).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// A test stuck in a loop fails after five minutes instead of holding CI to its limit.
const timeout = ['--test-timeout=300000'];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...timeout, ...passThrough, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
