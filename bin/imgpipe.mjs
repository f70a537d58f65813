#!/usr/bin/env node
// The `imgpipe` command: runs the TypeScript CLI (adapters/cli/main.ts) through
// tsx, so it works from a checkout after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../adapters/cli/main.ts');
await run();
