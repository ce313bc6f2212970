import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EDGE_CLI, HUB_CLI } from './paths.js';
import { freePort, startNode, type Proc } from './processes.js';

export interface GatewayCredentials {
  site: string;
  gateway: string;
  mqtt: { url: string; username: string; password: string };
}

export interface TestHub {
  proc: Proc;
  httpUrl: string;
  mqttUrl: string;
  /** The administrator's session token. */
  session: string;
  /** GET on the API as the administrator. */
  api(path: string): Promise<Response>;
  /** Any request to the API as the administrator, with a JSON body; the answer's status and JSON. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /**
   * Creates a gateway as the administrator and enrols it as an installer would, with
   * `gatehouse-edge enroll`; returns the credentials file it wrote.
   */
  enrolGateway(site: string, gateway: string): Promise<{ file: string; credentials: GatewayCredentials }>;
  stop(): Promise<void>;
}

/** A hub process on free ports with its data in `dataDir`, and its administrator logged in. */
export async function startTestHub(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<TestHub> {
  const adminPassword = 'gatehouse test admin';
  const proc = startNode('hub', HUB_CLI, [], {
    GATEHOUSE_HTTP_PORT: String(await freePort()),
    GATEHOUSE_MQTT_PORT: String(await freePort()),
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_ADMIN_PASSWORD: adminPassword,
    ...env,
  });
  const ready = await proc.waitForLog('hub ready');
  const httpUrl = String(ready.http_url);
  const login = await fetch(`${httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: adminPassword }),
  });
  if (!login.ok) throw new Error(`admin login: HTTP ${login.status} ${await login.text()}`);
  const { token: session } = (await login.json()) as { token: string };
  const authorised = { authorization: `Bearer ${session}` };
  return {
    proc,
    httpUrl,
    mqttUrl: String(ready.mqtt_url),
    session,
    api: (path) => fetch(`${httpUrl}${path}`, { headers: authorised }),
    call: async (method, path, body) => {
      const response = await fetch(`${httpUrl}${path}`, {
        method,
        headers: { ...authorised, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    enrolGateway: async (site, gateway) => {
      const created = await fetch(`${httpUrl}/api/v1/sites/${site}/gateways`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authorised },
        body: JSON.stringify({ gateway }),
      });
      if (!created.ok) throw new Error(`creating gateway ${site}/${gateway}: HTTP ${created.status} ${await created.text()}`);
      const { enrolment_token: token } = (await created.json()) as { enrolment_token: string };
      const file = join(dataDir, `${site}-${gateway}-credentials.json`);
      execFileSync(process.execPath, [EDGE_CLI, 'enroll', '--hub', httpUrl, '--token', token, '--out', file]);
      return { file, credentials: JSON.parse(readFileSync(file, 'utf8')) as GatewayCredentials };
    },
    stop: async () => {
      await proc.stop();
    },
  };
}
