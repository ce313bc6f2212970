import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGatewayIsolation, connect, type BrokerScenario } from '../../tests/support/broker-scenario.js';
import { GatewayCredentials, mayPublish, maySubscribe, startEmbeddedBroker, type EmbeddedBroker } from '../src/index.js';
import { memoryStores, securedApp, silentLog } from './support.js';

const HUB = { username: 'gatehouse-hub', password: 'the hub’s own password' };

async function enrolled(gateways: GatewayCredentials, site: string, gateway: string) {
  await gateways.createGateway(site, gateway);
  const { token } = await gateways.issueEnrolmentToken(site, gateway, 'test');
  const result = await gateways.redeem(token);
  if (!result.ok) throw new Error(result.reason);
  return { username: result.credentials.username, password: result.credentials.password };
}

/** A self-signed certificate for 127.0.0.1, made by Debian's openssl. */
function selfSigned(dir: string) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
    stdio: 'ignore',
  });
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

describe('broker policy (pure)', () => {
  const a = { kind: 'gateway', site: 'tower-a', gateway: 'gw-a' } as const;
  it.each([
    ['gatehouse/v1/tower-a/gw-a/telemetry', true],
    ['gatehouse/v1/tower-a/gw-a/cmd/result', true],
    ['gatehouse/v1/tower-a/gw-a/config', false],
    ['gatehouse/v1/tower-a/gw-a/cmd', false],
    ['gatehouse/v1/tower-a/gw-b/telemetry', false],
    ['gatehouse/v1/tower-b/gw-a/status', false],
    ['gatehouse/v1/tower-a/gw-a/telemetry/extra', false],
    ['elsewhere/x', false],
  ])('gateway A publishing %s: %s', (topic, allowed) => {
    expect(mayPublish(a, topic)).toBe(allowed);
  });
  it.each([
    ['gatehouse/v1/tower-a/gw-a/config', true],
    ['gatehouse/v1/tower-a/gw-a/cmd', true],
    ['gatehouse/v1/tower-a/gw-a/telemetry', false],
    ['gatehouse/v1/tower-a/gw-b/config', false],
    ['gatehouse/v1/tower-a/+/config', false],
    ['gatehouse/v1/tower-a/gw-a/#', false],
    ['#', false],
  ])('gateway A subscribing %s: %s', (filter, allowed) => {
    expect(maySubscribe(a, filter)).toBe(allowed);
  });
  it('lets the hub read everything, shared or not, and write config and commands', () => {
    expect(maySubscribe({ kind: 'hub' }, '$share/gatehouse-hub/gatehouse/v1/+/+/telemetry')).toBe(true);
    expect(maySubscribe({ kind: 'hub' }, 'gatehouse/v1/#')).toBe(true);
    expect(mayPublish({ kind: 'hub' }, 'gatehouse/v1/tower-a/gw-a/config')).toBe(true);
    expect(maySubscribe({ kind: 'hub' }, '$SYS/#')).toBe(false);
  });
});

describe('the embedded aedes broker with gateway credentials', () => {
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let gateways: GatewayCredentials;
  let broker: EmbeddedBroker;
  let scenario: BrokerScenario;

  beforeAll(async () => {
    stores = await memoryStores();
    gateways = new GatewayCredentials(stores.db);
    const a = await enrolled(gateways, 'tower-a', 'gw-a');
    const b = await enrolled(gateways, 'tower-a', 'gw-b');
    broker = await startEmbeddedBroker('127.0.0.1', 0, { hub: HUB, verifyGateway: (u, p) => gateways.verify(u, p), allowAnonymous: false, log: silentLog });
    scenario = { url: broker.url, hub: HUB, a, b, refusesInSuback: true };
  });

  afterAll(async () => {
    await broker.close();
    await stores.db.close();
  });

  it('holds gateway A to its own topics and refuses strangers', async () => {
    await checkGatewayIsolation(scenario);
  });

  it('disconnects a revoked gateway, which then cannot reconnect', async () => {
    const client = await connect(scenario, scenario.b, 'gw-b');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await gateways.revoke('tower-a', 'gw-b');
    expect(broker.disconnectGateway('tower-a', 'gw-b')).toBe(1);
    await closed;
    await expect(connect(scenario, scenario.b)).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
  });
});

describe('TLS: MQTT and HTTPS with a configured certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves MQTT over TLS to a client that trusts the certificate, and refuses one that does not', async () => {
    const tls = selfSigned(dir);
    const stores = await memoryStores();
    const gateways = new GatewayCredentials(stores.db);
    const a = await enrolled(gateways, 'tower-a', 'gw-a');
    const broker = await startEmbeddedBroker('127.0.0.1', 0, { hub: HUB, verifyGateway: (u, p) => gateways.verify(u, p), allowAnonymous: false, log: silentLog }, tls);
    try {
      expect(broker.url).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
      const trusted = await connect({ url: broker.url, clientOptions: { ca: tls.cert }, hub: HUB, a, b: a }, a);
      await trusted.publishAsync('gatehouse/v1/tower-a/gw-a/status', 'x', { qos: 1 });
      await trusted.endAsync();
      await expect(connect({ url: broker.url, hub: HUB, a, b: a }, a)).rejects.toThrow(/self[- ]signed|certificate/i);
      // The hub's own ingestion connects over loopback without TLS, still with credentials.
      expect(broker.internalUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      await expect(connect({ url: broker.internalUrl, hub: HUB, a, b: a })).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
    } finally {
      await broker.close();
      await stores.db.close();
    }
  });

  it('serves the API over HTTPS', async () => {
    const tls = selfSigned(dir);
    const h = await securedApp({ tls });
    try {
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = h.app.server.address() as AddressInfo;
      const body = await new Promise<string>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/api/v1/health', ca: tls.cert }, (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve(text));
        })
          .on('error', reject)
          .end();
      });
      expect(JSON.parse(body)).toMatchObject({ status: 'ok' });
      const login = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: 'correct horse battery staple' } });
      expect(login.cookies.find((c) => c.name === 'gatehouse_session')).toMatchObject({ secure: true });
    } finally {
      await h.app.close();
      await h.stores.db.close();
    }
  });
});
