import type { LambdaResponse } from '#adapters/http/lambda-handler.ts';
import { startNodeProcess, type RunningProcess } from './node-process.ts';

const RUNTIME = new URL('./lambda-runtime.mjs', import.meta.url).pathname;

export interface LambdaProcess extends RunningProcess {
  /** Hands one event to the bundle's `handler`; rejects with the handler's error. */
  invoke(event: unknown): Promise<LambdaResponse>;
}

type Reply = { id: number; response: LambdaResponse } | { id: number; error: { name?: string; message: string } };

/**
 * A Lambda bundle (`dist/lambda.mjs`) in its own process, driven as the Lambda
 * runtime drives it: imported once, then one event at a time (test/support/lambda-runtime.mjs).
 */
export function startLambdaProcess(bundle: string, env: Record<string, string>): LambdaProcess {
  const running = startNodeProcess(RUNTIME, env, { args: [bundle], ipc: true });
  const { child } = running;
  let nextId = 0;

  return {
    ...running,
    invoke(event) {
      const id = ++nextId;
      return new Promise<LambdaResponse>((resolve, reject) => {
        const onMessage = (reply: Reply) => {
          if (reply.id !== id) return;
          cleanup();
          if ('error' in reply) reject(new Error(`the handler failed: ${reply.error.name ?? 'Error'}: ${reply.error.message}`));
          else resolve(reply.response);
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(new Error(`${bundle} exited (${code}) during an invocation`));
        };
        const cleanup = () => {
          child.off('message', onMessage);
          child.off('exit', onExit);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ id, event });
      });
    },
  };
}
