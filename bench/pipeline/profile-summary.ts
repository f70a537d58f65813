/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by
 * package or file, and the hottest functions, as shares of the profile.
 *
 * node --import tsx bench/pipeline/profile-summary.ts <file.cpuprofile> [top] [--window <from>:<to>]
 *
 * `--window` counts only the samples taken between two instants of the
 * monotonic clock, in microseconds (`process.hrtime.bigint() / 1000n` in any
 * process on the machine: V8 stamps its samples with the same clock), e.g. a
 * request timed by the caller, without the process's start-up around it.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const args = process.argv.slice(2);
const windowIndex = args.indexOf('--window');
const windowArg = windowIndex === -1 ? undefined : args.splice(windowIndex, 2)[1];
const [file, topArg] = args;
const top = Number(topArg ?? 25);
const profile = JSON.parse(await readFile(file!, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

/** Whether the sample taken at `atUs` (monotonic microseconds) counts. */
function inWindow(): (atUs: number) => boolean {
  if (!windowArg) return () => true;
  const [fromUs, toUs] = windowArg.split(':').map(Number) as [number, number];
  if (!(fromUs < toUs)) throw new Error(`--window takes <from>:<to> in microseconds, not ${windowArg}`);
  return (atUs) => atUs >= fromUs && atUs <= toUs;
}

const counts = inWindow();
const selfUs = new Map<number, number>();
let totalUs = 0;
let atUs = profile.startTime;
profile.samples.forEach((id, index) => {
  const us = profile.timeDeltas[index] ?? 0;
  atUs += us;
  if (!counts(atUs)) return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  totalUs += us;
});

/** `node_modules/<pkg>` (scoped too), a node: builtin, the bundle, or a V8 pseudo-frame. */
function area(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return `(${functionName || 'anonymous'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\/.*\//, '');
}

const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
const areas = new Map<string, number>();
const functions = new Map<string, number>();
let idleUs = 0;
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  if (node.callFrame.functionName === '(idle)') idleUs += us;
  add(areas, area(node), us);
  add(functions, `${node.callFrame.functionName || '(anonymous)'} ${area(node)}:${node.callFrame.lineNumber + 1}`, us);
}
const busyUs = totalUs - idleUs;
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  }
};
const scope = windowArg ? 'window' : 'profile';
console.log(`${scope} ${(totalUs / 1e6).toFixed(2)} s, main thread busy ${(busyUs / 1e6).toFixed(2)} s (${((busyUs / totalUs) * 100).toFixed(0)}%)`);
show('self time by area', areas);
show('self time by function', functions);
