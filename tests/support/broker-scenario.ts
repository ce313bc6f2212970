import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { expect } from 'vitest';

export interface BrokerCredentials {
  username: string;
  password: string;
}

export interface BrokerScenario {
  url: string;
  /** Options every client needs (a CA for TLS). */
  clientOptions?: IClientOptions;
  hub: BrokerCredentials;
  /** Gateway A is tower-a/gw-a, gateway B is tower-a/gw-b. */
  a: BrokerCredentials;
  b: BrokerCredentials;
  /** Whether the broker answers a refused subscription with SUBACK 0x80 (aedes) rather than silence (Mosquitto). */
  refusesInSuback?: boolean;
}

const T = (gateway: string, channel: string) => `gatehouse/v1/tower-a/${gateway}/${channel}`;

export async function connect(scenario: BrokerScenario, credentials?: BrokerCredentials, clientId?: string): Promise<MqttClient> {
  return mqtt.connectAsync(scenario.url, {
    ...scenario.clientOptions,
    ...(credentials ?? {}),
    ...(clientId ? { clientId } : {}),
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
}

/** Publishes, tolerating a broker that answers a refused publish by closing the connection. */
async function tryPublish(client: MqttClient, topic: string, payload: string): Promise<void> {
  await Promise.race([client.publishAsync(topic, payload, { qos: 1 }).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000))]);
}

/**
 * Gateway A, with its own valid credentials, may publish its own edge→cloud channels and
 * subscribe to its own config and cmd — and is refused everything of gateway B's, its own
 * config as a publisher, and wildcards. Strangers are refused at connect.
 */
export async function checkGatewayIsolation(scenario: BrokerScenario): Promise<void> {
  const hub = await connect(scenario, scenario.hub, 'hub-observer');
  const heard: string[] = [];
  hub.on('message', (topic, payload) => heard.push(`${topic} ${payload.toString()}`));
  await hub.subscribeAsync('gatehouse/v1/#', { qos: 1 });

  const a = await connect(scenario, scenario.a, 'gw-a');
  const received: string[] = [];
  a.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
  // mqtt.js rejects a SUBACK whose only grant is a failure (0x80): that is a refusal.
  const granted = (filter: string) =>
    a.subscribeAsync(filter, { qos: 1 }).then(
      (grants) => grants[0]?.qos,
      (error: Error) => {
        if (/Subscribe error/.test(error.message)) return 128;
        throw error;
      },
    );
  expect(await granted(T('gw-a', 'config'))).toBe(1);
  expect(await granted(T('gw-a', 'cmd'))).toBe(1);
  // aedes refuses these in the SUBACK (0x80); Mosquitto grants them and then never delivers
  // (its ACL is applied to each message). Either way, what counts is that nothing arrives.
  const refusals = [T('gw-b', 'config'), T('gw-b', 'cmd'), 'gatehouse/v1/tower-a/+/config', 'gatehouse/v1/#'];
  const grants = await Promise.all(refusals.map(granted));
  if (scenario.refusesInSuback) expect(grants).toEqual(refusals.map(() => 128));
  await hub.publishAsync(T('gw-b', 'config'), 'for B only', { qos: 1, retain: true });
  await hub.publishAsync(T('gw-b', 'cmd'), 'for B only', { qos: 1 });
  await hub.publishAsync(T('gw-a', 'cmd'), 'for A', { qos: 1 });
  const until = Date.now() + 5000;
  while (!received.includes(`${T('gw-a', 'cmd')} for A`) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(received).toEqual([`${T('gw-a', 'cmd')} for A`]);
  await a.publishAsync(T('gw-a', 'telemetry'), 'own', { qos: 1 });

  // A speaking for B, and A writing its own config: refused (and the connection may be closed).
  await tryPublish(a, T('gw-b', 'telemetry'), 'forged');
  await a.endAsync(true).catch(() => undefined);
  const again = await connect(scenario, scenario.a, 'gw-a');
  await tryPublish(again, T('gw-a', 'config'), 'forged');
  await again.endAsync(true).catch(() => undefined);
  const last = await connect(scenario, scenario.a, 'gw-a');
  await last.publishAsync(T('gw-a', 'status'), 'marker', { qos: 1 });
  await last.endAsync();

  const deadline = Date.now() + 5000;
  while (!heard.some((line) => line.endsWith('marker')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(heard).toContain(`${T('gw-a', 'telemetry')} own`);
  expect(heard).toContain(`${T('gw-a', 'status')} marker`);
  expect(heard.filter((line) => line.includes('forged'))).toEqual([]);
  await hub.endAsync();

  // Strangers: no credentials, a wrong password, B's password under A's name.
  await expect(connect(scenario)).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
  await expect(connect(scenario, { username: scenario.a.username, password: 'wrong' })).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
  await expect(connect(scenario, { username: scenario.a.username, password: scenario.b.password })).rejects.toThrow(/not authori[sz]ed|bad user ?name or password/i);
}
