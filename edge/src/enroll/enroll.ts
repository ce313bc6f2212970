import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';

/** What the hub answers an enrolment with, and what the credentials file holds. */
export const GatewayCredentialsFile = z.object({
  site: z.string(),
  gateway: z.string(),
  mqtt: z.object({ url: z.string(), username: z.string(), password: z.string() }),
});
export type GatewayCredentialsFile = z.infer<typeof GatewayCredentialsFile>;

export interface EnrolOptions {
  /** The hub's base URL, e.g. https://hub.example:8443 */
  hub: string;
  /** The one-time enrolment token an administrator was given for this gateway. */
  token: string;
  /** Where the credentials are written (mode 0600). */
  out: string;
  /** A PEM CA certificate to trust for an HTTPS hub with a private or self-signed certificate. */
  caFile?: string | undefined;
}

export class EnrolmentError extends Error {
  override name = 'EnrolmentError';
}

function post(url: URL, body: string, ca: Buffer | undefined): Promise<{ status: number; text: string }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, ...(ca ? { ca } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Writes the credentials readable by this user only: created 0600, never world-readable for an instant. */
export function writeCredentialsFile(path: string, credentials: GatewayCredentialsFile): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

/**
 * Exchanges a one-time enrolment token at the hub for this gateway's own MQTT credentials, and
 * writes them to `out` with mode 0600. Returns them; the caller must never print the password.
 */
export async function enrol(options: EnrolOptions): Promise<GatewayCredentialsFile> {
  const url = new URL('/api/v1/enroll', options.hub);
  const ca = options.caFile ? readFileSync(options.caFile) : undefined;
  let answer;
  try {
    answer = await post(url, JSON.stringify({ token: options.token }), ca);
  } catch (error) {
    throw new EnrolmentError(`cannot reach the hub at ${url.origin}: ${(error as Error).message}`);
  }
  if (answer.status !== 200) {
    let message = answer.text;
    try {
      message = (JSON.parse(answer.text) as { error?: { message?: string } }).error?.message ?? answer.text;
    } catch {
      // not JSON: keep the text
    }
    throw new EnrolmentError(`the hub refused the enrolment (HTTP ${answer.status}): ${message}`);
  }
  const parsed = GatewayCredentialsFile.safeParse(JSON.parse(answer.text));
  if (!parsed.success) throw new EnrolmentError('the hub answered the enrolment with something that is not credentials');
  writeCredentialsFile(options.out, parsed.data);
  return parsed.data;
}

/** Reads a credentials file written by `enrol`. */
export function readCredentialsFile(path: string): GatewayCredentialsFile {
  return GatewayCredentialsFile.parse(JSON.parse(readFileSync(path, 'utf8')));
}
