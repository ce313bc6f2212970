import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayCredentials, migrate, MosquittoFiles, openEmbeddedDatabase, type SqlClient } from '@gatehouse/cloud';
import { checkGatewayIsolation, connect, type BrokerScenario } from '../support/broker-scenario.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';

const HUB = { username: 'gatehouse-hub', password: 'the hub’s own password' };

/**
 * The same isolation as on aedes, enforced by a real Mosquitto from the password and ACL files
 * the hub generates from its registry; revocation rewrites them and reloads Mosquitto (SIGHUP).
 */
describe('Mosquitto with the hub’s generated password and ACL files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mosquitto-auth-'));
  let db: SqlClient;
  let gateways: GatewayCredentials;
  let files: MosquittoFiles;
  let mosquitto: Mosquitto;
  let scenario: BrokerScenario;

  const enrol = async (gateway: string) => {
    await gateways.createGateway('tower-a', gateway);
    const result = await gateways.redeem((await gateways.issueEnrolmentToken('tower-a', gateway, 'test')).token);
    if (!result.ok) throw new Error(result.reason);
    await files.write(await gateways.activeCredentials());
    return { username: result.credentials.username, password: result.credentials.password };
  };

  beforeAll(async () => {
    // Mosquitto, started as root, drops to its own user: it reads the files and writes its pid here.
    chmodSync(dir, 0o777);
    db = await openEmbeddedDatabase(undefined);
    await migrate(db);
    gateways = new GatewayCredentials(db);
    const passwordFile = join(dir, 'passwords');
    const aclFile = join(dir, 'acl');
    const pidFile = join(dir, 'mosquitto.pid');
    files = new MosquittoFiles({ passwordFile, aclFile, hub: HUB, mode: 0o644 });
    const a = await enrol('gw-a');
    const b = await enrol('gw-b');
    mosquitto = await startMosquitto(['allow_anonymous false', `password_file ${passwordFile}`, `acl_file ${aclFile}`, `pid_file ${pidFile}`]);
    files = new MosquittoFiles({ passwordFile, aclFile, hub: HUB, mode: 0o644, pidFile });
    scenario = { url: mosquitto.url, hub: HUB, a, b };
  });

  afterAll(async () => {
    await mosquitto?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes hashes in mosquitto_passwd’s $7$ format and one ACL block per gateway', () => {
    const passwords = readFileSync(join(dir, 'passwords'), 'utf8');
    expect(passwords).toMatch(/^gatehouse-hub:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/m);
    expect(passwords).toMatch(/^tower-a\.gw-a:\$7\$/m);
    expect(passwords).not.toContain(scenario.a.password);
    const acl = readFileSync(join(dir, 'acl'), 'utf8');
    expect(acl).toContain('user tower-a.gw-a\ntopic write gatehouse/v1/tower-a/gw-a/status');
    expect(acl).toContain('topic read gatehouse/v1/tower-a/gw-b/cmd');
  });

  it('holds gateway A to its own topics and refuses strangers', async () => {
    await checkGatewayIsolation(scenario);
  });

  it('refuses a revoked gateway once the files are rewritten and Mosquitto reloaded', async () => {
    expect(existsSync(join(dir, 'mosquitto.pid'))).toBe(true);
    const before = await connect(scenario, scenario.b);
    await before.endAsync();
    await gateways.revoke('tower-a', 'gw-b');
    await files.write(await gateways.activeCredentials());
    expect(readFileSync(join(dir, 'passwords'), 'utf8')).not.toMatch(/^tower-a\.gw-b:/m);
    const deadline = Date.now() + 5000;
    let refused: unknown;
    while (!refused && Date.now() < deadline) {
      try {
        const client = await connect(scenario, scenario.b);
        await client.endAsync();
        await new Promise((resolve) => setTimeout(resolve, 100));
      } catch (error) {
        refused = error;
      }
    }
    expect(String(refused)).toMatch(/not authori[sz]ed|bad user ?name or password/i);
  });
});
