import { createHmac } from 'node:crypto';
import type { Deliver } from './channel.js';
import type { WebhookConfig } from './config.js';
import { deliverHttp } from './http-delivery.js';

/** The version of the JSON a webhook receives, so that a receiver can tell a changed shape. */
export const WEBHOOK_PAYLOAD_VERSION = 1;

/**
 * POSTs `{"v":1,"page":{…},"recipient":{…}}` (UTF-8 JSON) to our own webhook, signed so that the
 * receiver can tell it came from this hub and is fresh:
 *
 *   X-Gatehouse-Timestamp: milliseconds since the Unix epoch when the request was made
 *   X-Gatehouse-Signature: sha256=<hex HMAC-SHA256, keyed with the shared secret,
 *                                  of the timestamp, ".", and the raw request body>
 *
 * To verify, compute the HMAC over `${timestamp}.${rawBody}` exactly as received (before any JSON
 * parsing), compare it with the header in constant time, and refuse timestamps more than a few
 * minutes from your clock: the timestamp is inside the signature, so an old request replayed
 * cannot be given a new one. A retry is signed anew and carries the same `page.id`; deduplicate
 * on it.
 */
export function webhookDelivery(config: WebhookConfig, timeoutMs: number): Deliver {
  return async (page, recipient) => {
    const body = JSON.stringify({ v: WEBHOOK_PAYLOAD_VERSION, page, recipient });
    const timestamp = String(Date.now());
    const signature = createHmac('sha256', config.secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
    return deliverHttp({
      url: config.url,
      body,
      timeoutMs,
      headers: { 'x-gatehouse-timestamp': timestamp, 'x-gatehouse-signature': `sha256=${signature}` },
    });
  };
}
