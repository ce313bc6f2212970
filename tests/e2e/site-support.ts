import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { decodePayload, type CommandResultPayload, type EventsPayload, type GatehouseEvent } from '@gatehouse/protocols';
import { EDGE_CLI, SIM_CLI } from '../support/paths.js';
import { freePort, startNode, type Proc } from '../support/processes.js';

/** A simulator of one model as its own process, with its HTTP control endpoint. */
export async function startDeviceSim(model: string, units: number[], extra: string[] = []): Promise<{ proc: Proc; port: number; control: string }> {
  const port = await freePort();
  const controlPort = await freePort();
  const args = ['device', '--model', model, '--units', units.join(','), '--port', String(port), '--control-port', String(controlPort), ...extra];
  const proc = startNode(model, SIM_CLI, args);
  await proc.waitForLog('simulator ready');
  return { proc, port, control: `http://127.0.0.1:${controlPort}` };
}

export async function control(base: string, unit: number, action: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}/units/${unit}/${action}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (!response.ok) throw new Error(`${action}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

export async function valuesOf(base: string, unit: number): Promise<Record<string, unknown>> {
  return (await (await fetch(`${base}/units/${unit}`)).json()) as Record<string, unknown>;
}

/** An agent configuration for gateway `gateway` of site tower-a, with its data under `dir`. */
export function writeAgentConfig(dir: string, gateway: string, brokerUrl: string, lines: string[]): string {
  const file = join(dir, `${gateway}.yaml`);
  const common = [
    'site: tower-a',
    `gateway: ${gateway}`,
    `data_dir: ${join(dir, gateway)}`,
    `uplink: { url: "${brokerUrl}", reconnect_max_ms: 500 }`,
    'metrics: { port: 0 }',
  ];
  writeFileSync(file, [...common, ...lines].join('\n'));
  return file;
}

export function startAgent(config: string): Proc {
  return startNode('agent', EDGE_CLI, ['run', '--config', config]);
}

/**
 * What a hub would see on a gateway's events and cmd/result channels, through a persistent
 * session. A message the broker delivers again (QoS 1 is at least once: an agent killed before
 * the PUBACK sends it again after its restart) is counted once by its outbox sequence number, as
 * the hub's ingestion does.
 */
export class HubSide {
  readonly events: GatehouseEvent[] = [];
  readonly results: CommandResultPayload[] = [];
  /** Payloads that failed the contract's schema (there should be none). */
  readonly invalid: string[] = [];
  /** Events messages received again under the same sequence number. */
  redelivered = 0;
  private readonly seqs = new Set<number>();

  private constructor(
    readonly client: MqttClient,
    private readonly root: string,
  ) {
    client.on('message', (topic, payload) => {
      if (topic === `${root}/events`) {
        const decoded = decodePayload('events', payload);
        if (decoded.ok) this.take(decoded.payload);
        else this.invalid.push(`events: ${JSON.stringify(decoded.issues)}`);
      } else if (topic === `${root}/cmd/result`) {
        const decoded = decodePayload('cmd/result', payload);
        if (decoded.ok) this.results.push(decoded.payload);
        else this.invalid.push(`cmd/result: ${JSON.stringify(decoded.issues)}`);
      }
    });
  }

  static async connect(url: string, site: string, gateway: string): Promise<HubSide> {
    const root = `gatehouse/v1/${site}/${gateway}`;
    const client = await mqtt.connectAsync(url, { clientId: `test-hub-${gateway}`, clean: false, reconnectPeriod: 200 });
    const hub = new HubSide(client, root);
    await client.subscribeAsync([`${root}/events`, `${root}/cmd/result`], { qos: 1 });
    return hub;
  }

  private take(payload: EventsPayload): void {
    if (this.seqs.has(payload.seq)) {
      this.redelivered++;
      return;
    }
    this.seqs.add(payload.seq);
    this.events.push(...payload.events);
  }

  /** Sends a command to the gateway as the hub would. */
  async command(body: Record<string, unknown>): Promise<void> {
    await this.client.publishAsync(`${this.root}/cmd`, JSON.stringify(body), { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
