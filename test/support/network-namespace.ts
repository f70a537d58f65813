import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface NetworkNamespace {
  readonly name: string;
  /** Runs `command` inside the namespace with `stdin` as its input; resolves with its exit code and output. */
  run(command: readonly string[], stdin: string, env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Deletes the namespace. Safe to call twice. */
  remove(): void;
}

/**
 * A fresh network namespace in which the kernel can reach nothing but itself:
 * only `lo` is up, `0.0.0.0/0` and `::/0` are blackhole routes, and each of
 * `localAddresses` is bound to `lo` (an IPv4-mapped address as its IPv4 form),
 * so a connection to one of them stays on this machine. Needs root
 * (`ip netns add`); anything that fails throws, so the tests fail loudly.
 */
export function createNetworkNamespace(localAddresses: readonly string[]): NetworkNamespace {
  const name = `imgpipe-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ip('netns', 'add', name);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    ip('netns', 'delete', name);
  };
  try {
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'route', 'add', 'blackhole', '0.0.0.0/0');
    ip('-n', name, '-6', 'route', 'add', 'blackhole', '::/0');
    for (const address of new Set(localAddresses.map(bindable))) {
      if (address === undefined) continue;
      if (isIP(address) === 4) ip('-n', name, 'address', 'add', `${address}/32`, 'dev', 'lo');
      else ip('-n', name, '-6', 'address', 'add', `${address}/128`, 'dev', 'lo');
    }
  } catch (error) {
    remove();
    throw error;
  }
  return {
    name,
    remove,
    run: (command, stdin, env = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', name, ...command], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin);
      }),
  };
}

/** The form the kernel binds (`::ffff:a.b.c.d` is `a.b.c.d`), or undefined for what `lo` already answers (loopback, unspecified). */
function bindable(address: string): string | undefined {
  const parsed = ipaddr.process(address);
  return ['loopback', 'unspecified'].includes(parsed.range()) ? undefined : parsed.toString();
}
