import { StoreError } from '../../errors.js';

/** How to reach InfluxDB's v1 HTTP API (served natively by 1.x, and by 2.x and 3.x for compatibility). */
export interface InfluxConnection {
  url: string;
  database: string;
  /** v1 user and password; or a v2/v3 API token. */
  username?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  /** A request that takes longer than this is abandoned and counts as the store being unavailable. */
  timeoutMs?: number;
}

/** One statement's answer from /query. */
export interface InfluxSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}
export interface InfluxStatementResult {
  statement_id?: number;
  series?: InfluxSeries[];
  error?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function authorization(connection: InfluxConnection): Record<string, string> {
  if (connection.token) return { authorization: `Token ${connection.token}` };
  if (connection.username !== undefined) {
    const basic = Buffer.from(`${connection.username}:${connection.password ?? ''}`).toString('base64');
    return { authorization: `Basic ${basic}` };
  }
  return {};
}

/** The server's own words, from `{"error": "..."}` or the body as it is. */
function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: the body is the message
  }
  return body.trim().slice(0, 500) || '(no message)';
}

/**
 * The two endpoints the hub uses, with every failure turned into a StoreError whose code says
 * what to do and whose message names the server and the setting to check.
 */
export class InfluxHttp {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(readonly connection: InfluxConnection) {
    this.base = connection.url.replace(/\/+$/, '');
    this.headers = authorization(connection);
    this.timeoutMs = connection.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** POSTs line protocol (millisecond timestamps) into a retention policy. */
  async write(body: string, retentionPolicy: string): Promise<void> {
    const query = new URLSearchParams({ db: this.connection.database, rp: retentionPolicy, precision: 'ms' });
    await this.request(`/write?${query.toString()}`, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }

  /**
   * Runs InfluxQL statements (separated by `;`) and returns one result per statement, times in
   * epoch milliseconds. A statement that failed is a `rejected` StoreError.
   */
  async query(statements: string, options: { method?: 'GET' | 'POST' } = {}): Promise<InfluxStatementResult[]> {
    const params = new URLSearchParams({ db: this.connection.database, epoch: 'ms', q: statements });
    // /query takes reads as GET; statements that change the database must be POSTed.
    const method = options.method ?? 'GET';
    const response =
      method === 'GET'
        ? await this.request(`/query?${params.toString()}`, { method })
        : await this.request('/query', { method, body: params, headers: {} });
    const parsed = JSON.parse(response) as { results?: InfluxStatementResult[]; error?: string };
    if (parsed.error) throw this.rejected(`refused the query: ${parsed.error}`);
    const results = parsed.results ?? [];
    const failed = results.find((result) => result.error);
    if (failed) throw this.rejected(`refused the query: ${failed.error}`);
    return results;
  }

  private rejected(what: string): StoreError {
    return new StoreError('rejected', 'influxdb', `InfluxDB at ${this.base} ${what}`);
  }

  private async request(path: string, init: { method: string; body?: string | URLSearchParams; headers?: Record<string, string> }): Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method: init.method,
        ...(init.body === undefined ? {} : { body: init.body }),
        headers: { ...this.headers, ...init.headers },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `did not answer within ${this.timeoutMs} ms`
          : `is unreachable (${cause?.code ?? cause?.message ?? (error as Error).message})`;
      throw new StoreError('unavailable', 'influxdb', `InfluxDB at ${this.base} ${reason}; check that it is running and GATEHOUSE_INFLUX_URL`, {
        cause: error,
      });
    }
    const body = await response.text();
    if (response.ok) return body;
    const message = serverMessage(body);
    if (response.status === 401 || response.status === 403) {
      throw new StoreError(
        'unauthorized',
        'influxdb',
        `InfluxDB at ${this.base} refused the credentials (GATEHOUSE_INFLUX_USERNAME/PASSWORD or GATEHOUSE_INFLUX_TOKEN): ${message}`,
      );
    }
    // 404 is a missing database: someone dropped it; the data is good and waits until it is back.
    if (response.status >= 500 || response.status === 429 || response.status === 404) {
      throw new StoreError('unavailable', 'influxdb', `InfluxDB at ${this.base} answered ${response.status}: ${message}`);
    }
    throw this.rejected(`refused the request (${response.status}): ${message}`);
  }
}
