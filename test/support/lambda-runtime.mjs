// Plays the AWS Lambda runtime for tests, in its own process: imports the bundle
// named by the first argument (the init phase) and hands each event that arrives
// over IPC to its exported `handler`, one invocation at a time, as Lambda does.
// Each reply names the event's id and carries the handler's result or error.
import { pathToFileURL } from 'node:url';

const bundle = pathToFileURL(process.argv[2]).href;
let invocations = 0;
let previous = Promise.resolve();
let module;

async function invoke({ id, event }) {
  invocations += 1;
  const context = {
    awsRequestId: `invocation-${invocations}`,
    functionName: 'imgpipe-api',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 30_000,
  };
  try {
    module ??= await import(bundle);
    const response = await module.handler(event, context);
    process.send({ id, response });
  } catch (error) {
    process.send({ id, error: { name: error?.name, message: error?.message ?? String(error) } });
  }
}

process.on('message', (message) => {
  previous = previous.then(() => invoke(message));
});
