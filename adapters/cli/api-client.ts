import { CliError } from './cli-error.ts';

export interface ApiClientOptions {
  /** `IMGPIPE_API`, default `http://127.0.0.1:8000`. */
  readonly baseUrl: string;
  /** `IMGPIPE_API_KEY`, sent as a Bearer token when set. */
  readonly apiKey: string | undefined;
}

export interface ApiAnswer<T> {
  readonly status: number;
  readonly body: T;
}

/**
 * The api as the CLI sees it: JSON in, JSON out. A refused connection or an
 * error answer becomes a {@link CliError} whose message says what to fix;
 * `allow` lists statuses the caller handles itself (a 404 for `job`).
 */
export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, allow: readonly number[] = []): Promise<ApiAnswer<T>> {
    const url = new URL(path, this.options.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the api at ${this.options.baseUrl} (${cause?.code ?? cause?.message ?? String(error)}); set IMGPIPE_API`);
    }
    const text = await response.text();
    const parsed = parseJson(text);
    if (response.ok || allow.includes(response.status)) return { status: response.status, body: parsed as T };
    if (response.status === 401) throw new CliError(`the api refused the key (401); set IMGPIPE_API_KEY to its API_KEY`);
    const { error, message } = (parsed ?? {}) as { error?: string; message?: string };
    throw new CliError(`${method} ${url.pathname} answered ${response.status}${error ? ` ${error}` : ''}: ${message ?? text.slice(0, 200)}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
