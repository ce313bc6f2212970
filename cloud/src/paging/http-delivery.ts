import { delivered, failed, type DeliveryOutcome } from './channel.js';
import { endpointOf } from './redact.js';

export interface HttpDelivery {
  url: string;
  method?: 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** JSON, sent as UTF-8. */
  body: string;
  timeoutMs: number;
}

/** A 2xx answer; what it means is up to the adapter (the chat robots put their verdict in the body). */
export interface HttpAnswer {
  status: number;
  body: string;
}

export type HttpResult = { ok: true; answer: HttpAnswer } | { ok: false; outcome: DeliveryOutcome };

/** Enough of a server's answer to say what it objected to, not a whole error page. */
const MAX_QUOTED_BODY = 300;

/** A server's answer, shortened, to quote in an error. */
export const quoteAnswer = (body: string) => {
  const trimmed = body.trim();
  return trimmed.length > MAX_QUOTED_BODY ? `${trimmed.slice(0, MAX_QUOTED_BODY)}…` : trimmed || '(empty)';
};

/**
 * Sends one request and sorts what happened: no answer in time, no connection, 5xx and 429 may
 * go better later (retryable); any other non-2xx status is a refusal of this request as it
 * stands (not retryable). Errors name the endpoint without its query, where robot keys travel.
 */
export async function sendHttp(request: HttpDelivery): Promise<HttpResult> {
  const endpoint = endpointOf(request.url);
  // Headers, not an object spread: a configured `Content-Type` must replace ours, not join it.
  const headers = new Headers({ 'content-type': 'application/json; charset=utf-8' });
  for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value);
  let response: Response;
  let body: string;
  try {
    response = await fetch(request.url, {
      method: request.method ?? 'POST',
      headers,
      body: request.body,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    body = await response.text();
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') {
      return { ok: false, outcome: failed(true, `${endpoint} did not answer within ${request.timeoutMs} ms`) };
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    return { ok: false, outcome: failed(true, `${endpoint} is unreachable (${reason})`) };
  }
  if (response.ok) return { ok: true, answer: { status: response.status, body } };
  const retryable = response.status >= 500 || response.status === 429;
  return { ok: false, outcome: failed(retryable, `${endpoint} answered ${response.status}: ${quoteAnswer(body)}`) };
}

/** The usual verdict of a plain HTTP receiver: any 2xx is a delivery. */
export async function deliverHttp(request: HttpDelivery): Promise<DeliveryOutcome> {
  const result = await sendHttp(request);
  return result.ok ? delivered(`${endpointOf(request.url)} answered ${result.answer.status}`) : result.outcome;
}
