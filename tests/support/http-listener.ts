import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the listener received it, the body as the raw text that came over the wire. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent (still URL-encoded). */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the listener answers a request: a status with a body (JSON for an object), or not at all. */
export type Answer = { status: number; body?: string | object; headers?: Record<string, string> } | 'no answer';

export type Responder = (request: RecordedRequest) => Answer;

export interface HttpListener {
  /** `http://127.0.0.1:PORT`; any path is accepted. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Answers every following request so (a fixed answer, or one chosen per request). */
  answerWith(answer: Answer | Responder): void;
  /** Waits until `count` requests have arrived, and returns them. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Stops listening and drops every connection, the unanswered ones too. */
  close(): Promise<void>;
}

const OK: Answer = { status: 200, body: '' };

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, answer: Exclude<Answer, 'no answer'>): void {
  const json = typeof answer.body === 'object';
  const body = json ? JSON.stringify(answer.body) : (answer.body ?? '');
  response.writeHead(answer.status, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8',
    ...answer.headers,
  });
  response.end(body);
}

/**
 * A real HTTP server on a free loopback port that records what it is sent and answers as told:
 * 200 by default, a programmed status, a vendor's JSON verdict, or no answer at all (for timeouts).
 */
export async function startHttpListener(answer: Answer | Responder = OK): Promise<HttpListener> {
  let responder: Responder = typeof answer === 'function' ? answer : () => answer;
  const requests: RecordedRequest[] = [];
  const arrivals = new Set<() => void>();

  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const recorded = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body };
      requests.push(recorded);
      arrivals.forEach((wake) => wake());
      const chosen = responder(recorded);
      if (chosen !== 'no answer') send(response, chosen);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answerWith(next) {
      responder = typeof next === 'function' ? next : () => next;
    },
    async waitForRequests(count, timeoutMs = 10_000) {
      if (requests.length >= count) return requests.slice(0, count);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          arrivals.delete(arrived);
          reject(new Error(`expected ${count} requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        function arrived() {
          if (requests.length < count) return;
          clearTimeout(timer);
          arrivals.delete(arrived);
          resolve(requests.slice(0, count));
        }
        arrivals.add(arrived);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
