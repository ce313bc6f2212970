/**
 * Keeps credentials out of what a delivery reports. Robot keys and access tokens travel in
 * webhook URLs, and servers and libraries may echo a URL or a header back in their errors.
 */

const HIDDEN = '***';

/**
 * Shorter values are left alone: hiding every `1` or `ok` in a message would make it unreadable,
 * and a credential that short protects nothing anyway.
 */
const SHORTEST_SECRET = 4;

/** `text` with every occurrence of each secret (as written, and URL-encoded) replaced by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = secrets
    .filter((secret) => secret.length >= SHORTEST_SECRET)
    .flatMap((secret) => [secret, encodeURIComponent(secret)])
    // the longest first, so that a secret containing another is hidden whole
    .sort((a, b) => b.length - a.length);
  return forms.reduce((hidden, secret) => hidden.split(secret).join(HIDDEN), text);
}

/** Where a request went, fit to show: scheme, host and path, without user info or query. */
export function endpointOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
