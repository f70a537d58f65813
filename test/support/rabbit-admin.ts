import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Has the broker drop every client connection of one vhost, as a broker restart would. */
export async function closeVhostConnections(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'close_all_connections', '--vhost', vhost, 'closed by a test']);
}

/** How many client connections the broker has open on one vhost. */
export async function countVhostConnections(vhost: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'vhost', '--formatter', 'json']);
  return (JSON.parse(stdout) as Array<{ vhost: string }>).filter((connection) => connection.vhost === vhost).length;
}
