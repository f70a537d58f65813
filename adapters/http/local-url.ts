/**
 * A URL a person can click for a server listening on `host:port`: the wildcard
 * addresses mean this machine, IPv6 hosts get brackets.
 *
 * @example
 * localUrl('0.0.0.0', 8000); // → 'http://127.0.0.1:8000'
 */
export function localUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}
