import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Identifier, describeIssues, type FieldIssue, type GatehouseEvent } from '@gatehouse/protocols';
import type { LprConfig } from './config.js';
import { parseGenericPlateRead, parseHikvisionAlert, plateReadEvent, type ParseResult } from './formats.js';

export interface LprCounters {
  accepted: number;
  rejected: number;
  ignored: number;
  /** Reads that were valid but could not be queued (the outbox refused the write). */
  failed: number;
}

export interface LprListenerOptions {
  config: LprConfig;
  /** Queues the event durably; the camera hears 200 only once it is on disk. */
  submit: (event: GatehouseEvent) => Promise<void>;
  log: Logger;
  now?: () => number;
}

export interface LprListener {
  readonly url: string;
  readonly counters: LprCounters;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
  }
}

const HIKVISION_PATH = /^\/lpr\/hikvision\/([^/?]+)$/;

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, 'body_too_large', `the body may be at most ${limit} bytes (lpr.max_body_kb)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, 'body_too_large', `the body may be at most ${limit} bytes (lpr.max_body_kb)`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The text of a Hikvision alert and its kind: the body itself (XML or JSON), or, from a
 * multipart/form-data post, the part that holds the alert (`anpr.xml`, or any XML or JSON part;
 * the pictures beside it are not kept).
 */
async function hikvisionText(body: Buffer, contentType: string): Promise<{ text: string; kind: 'xml' | 'json' }> {
  if (contentType.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
    } catch (error) {
      throw new HttpError(400, 'invalid_plate_read', 'multipart body cannot be parsed', [{ path: '(body)', message: (error as Error).message }]);
    }
    for (const [name, value] of form) {
      const type = typeof value === 'string' ? '' : value.type;
      const kind = /json/i.test(type) || name.endsWith('.json') ? 'json' : /xml/i.test(type) || name.endsWith('.xml') ? 'xml' : undefined;
      if (kind) return { text: typeof value === 'string' ? value : await value.text(), kind };
    }
    throw new HttpError(400, 'invalid_plate_read', 'no alert in the form', [{ path: 'anpr.xml', message: 'Required: a part holding the XML (or JSON) alert' }]);
  }
  return { text: body.toString('utf8'), kind: /json/i.test(contentType) ? 'json' : 'xml' };
}

/**
 * The agent's HTTP listener for plate reads that LPR cameras push:
 *   POST /lpr/plates                  the generic JSON format
 *   POST /lpr/hikvision/{camera}      a Hikvision ANPR alert; `?forward=out` when vehicles
 *                                     approaching this camera are leaving the site
 * A valid read becomes a `plate.read` event queued in the outbox (200 once it is on disk); an
 * invalid one is answered 400 with the fields at fault, counted and logged, and changes nothing.
 */
export async function startLprListener(options: LprListenerOptions): Promise<LprListener> {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  const counters: LprCounters = { accepted: 0, rejected: 0, ignored: 0, failed: 0 };
  const allowed = config.cameras ? new Set(config.cameras) : undefined;
  const limit = config.max_body_kb * 1024;
  /** The last rejection logged per source, so that a misconfigured camera is logged once, not per read. */
  const lastRejection = new Map<string, string>();

  const checkCamera = (camera: string): void => {
    const valid = Identifier.safeParse(camera);
    if (!valid.success) throw new HttpError(400, 'invalid_plate_read', 'bad camera id', [{ path: 'camera', message: valid.error.issues[0]?.message ?? 'invalid' }]);
    if (allowed && !allowed.has(camera)) {
      throw new HttpError(400, 'unknown_camera', `camera "${camera}" is not in lpr.cameras`, [{ path: 'camera', message: `"${camera}" is not configured` }]);
    }
  };

  const parse = async (request: IncomingMessage, url: URL): Promise<ParseResult> => {
    const contentType = String(request.headers['content-type'] ?? '').toLowerCase();
    const body = await readBody(request, limit);
    const receivedAt = now();
    if (url.pathname === '/lpr/plates') {
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch (error) {
        return { ok: false, issues: [{ path: '(body)', message: `not JSON: ${(error as Error).message}` }] };
      }
      const camera = (json as { camera?: unknown } | null)?.camera;
      if (typeof camera === 'string' && allowed && !allowed.has(camera)) checkCamera(camera);
      return parseGenericPlateRead(json, receivedAt);
    }
    const camera = decodeURIComponent(HIKVISION_PATH.exec(url.pathname)![1]!);
    checkCamera(camera);
    const forward = url.searchParams.get('forward') ?? 'in';
    if (forward !== 'in' && forward !== 'out') throw new HttpError(400, 'invalid_plate_read', 'bad query', [{ path: 'forward', message: 'in or out' }]);
    const { text, kind } = await hikvisionText(body, contentType);
    return parseHikvisionAlert(text, kind, camera, { forward });
  };

  const reject = (response: ServerResponse, source: string, error: HttpError) => {
    counters.rejected++;
    const line = `${error.message}: ${describeIssues(error.issues)}`;
    if (lastRejection.get(source) !== line) log.warn({ source, status: error.status, issues: error.issues }, `plate read refused: ${line}`);
    lastRejection.set(source, line);
    send(response, error.status, { error: { code: error.code, message: line, issues: error.issues } });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://lpr');
    const known = url.pathname === '/lpr/plates' || HIKVISION_PATH.test(url.pathname);
    if (!known) return send(response, 404, { error: { code: 'not_found', message: 'POST /lpr/plates or /lpr/hikvision/{camera}' } });
    if (request.method !== 'POST') return send(response, 405, { error: { code: 'method_not_allowed', message: 'POST only' } });
    const source = `${request.socket.remoteAddress ?? '?'} ${url.pathname}`;
    let result: ParseResult;
    try {
      result = await parse(request, url);
    } catch (error) {
      if (error instanceof HttpError) return reject(response, source, error);
      throw error;
    }
    if (!result.ok) return reject(response, source, new HttpError(400, 'invalid_plate_read', 'invalid plate read', result.issues));
    if ('ignored' in result) {
      counters.ignored++;
      return send(response, 200, { ignored: result.ignored });
    }
    lastRejection.delete(source);
    const event = plateReadEvent(result.read);
    try {
      await options.submit(event);
    } catch (error) {
      counters.failed++;
      log.error({ err: error, camera: result.read.camera }, 'plate read could not be queued');
      return send(response, 503, { error: { code: 'not_queued', message: 'the gateway could not store the read; send it again' } });
    }
    counters.accepted++;
    send(response, 200, { accepted: true, camera: event.device, plate: result.read.plate, ts: event.ts });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log.error({ err: error }, 'plate read handler failed');
      if (!response.headersSent) send(response, 500, { error: { code: 'internal', message: String(error) } });
      else response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${config.host}:${address.port}`,
    counters,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(`${JSON.stringify(body)}\n`);
}
