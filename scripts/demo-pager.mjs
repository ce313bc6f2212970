// The demo's pager: a loopback HTTP listener standing in for the on-call technician's phone. The
// hub pages it through its `webhook` channel; it checks each page's signature as any receiver of
// Gatehouse webhooks should (cloud/src/paging/webhook.ts) and hands each page on once.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';

/** A signed page older or newer than this is refused: a replay, or a clock far off. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** Whether `signature` (`sha256=<hex>`) is the HMAC of `${timestamp}.${body}` under `secret`. */
function isSigned(secret, timestamp, body, signature) {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`);
  const given = Buffer.from(signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Starts the pager on a free loopback port. `onPage({page, recipient})` is called once per page
 * (a retried delivery carries the same `page.id`); `onRefused(reason)` for a request that is not
 * a genuine page. Resolves with the URL and secret to put in the hub's `webhook` channel.
 */
export async function startDemoPager({ onPage, onRefused }) {
  const secret = randomBytes(24).toString('base64url');
  const seen = new Set();
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const timestamp = request.headers['x-gatehouse-timestamp'];
      const refuse = (reason) => {
        onRefused(reason);
        response.writeHead(401).end();
      };
      if (!isSigned(secret, timestamp, body, request.headers['x-gatehouse-signature'])) return refuse('a request without a valid signature');
      // Written so that a timestamp that is not a number is refused as well.
      if (!(Math.abs(Date.now() - Number(timestamp)) <= MAX_CLOCK_SKEW_MS)) return refuse('a signed page with a stale timestamp');
      const delivery = JSON.parse(body);
      if (!seen.has(delivery.page.id)) {
        seen.add(delivery.page.id);
        onPage(delivery);
      }
      response.writeHead(200).end();
    }).catch((error) => {
      // A broken request must not bring the demo down with an unhandled rejection.
      onRefused(`a request it could not read (${error.message})`);
      response.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}/pages`,
    secret,
    close: () => {
      // The hub keeps its connection alive between pages; close would wait for it otherwise.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
