import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  SCHEMA_VERSION,
  topicFor,
  type DeviceInventoryEntry,
  type DevicesPayload,
  type Reading,
  type StatusPayload,
  type TelemetryPayload,
} from '@gatehouse/protocols';
import type { AgentConfig } from '../config/schema.js';
import type { PersistentSequence } from './sequence.js';

export interface UplinkIdentity {
  site: string;
  gateway: string;
  bootId: string;
  agentVersion: string;
  configVersion: string;
}

/**
 * The gateway's MQTT session with the hub's broker: a retained birth on every connect, a retained
 * death as the Last Will, readings batched into telemetry, and the retained device inventory.
 */
export class MqttUplink {
  private client: MqttClient | undefined;
  private pending: Reading[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private inventory: DeviceInventoryEntry[] = [];
  private connectedOnce = false;

  constructor(
    private readonly options: AgentConfig['uplink'],
    private readonly identity: UplinkIdentity,
    private readonly sequence: PersistentSequence,
    private readonly log: Logger,
  ) {}

  private topic(channel: 'status' | 'telemetry' | 'devices'): string {
    return topicFor(this.identity.site, this.identity.gateway, channel);
  }

  private status(state: StatusPayload['state']): string {
    const payload: StatusPayload = {
      v: SCHEMA_VERSION,
      state,
      ts: Date.now(),
      agent_version: this.identity.agentVersion,
      config_version: this.identity.configVersion,
      boot_id: this.identity.bootId,
    };
    return JSON.stringify(payload);
  }

  start(): void {
    const client = mqtt.connect(this.options.url, {
      clientId: `gatehouse-edge-${this.identity.site}-${this.identity.gateway}`,
      ...(this.options.username === undefined ? {} : { username: this.options.username }),
      ...(this.options.password === undefined ? {} : { password: this.options.password }),
      clean: true,
      reconnectPeriod: 2000,
      will: { topic: this.topic('status'), payload: Buffer.from(this.status('offline')), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.log.info({ url: this.options.url, reconnect: this.connectedOnce }, 'uplink connected');
      this.connectedOnce = true;
      client.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
      this.publishInventoryNow();
    });
    client.on('offline', () => this.log.warn({ url: this.options.url }, 'uplink lost; reconnecting'));
    client.on('error', (error) => this.log.warn({ err: error.message }, 'uplink error'));
    this.flushTimer = setInterval(() => this.flush(), this.options.batch_interval_ms);
  }

  /** Queues readings for the next telemetry batch. */
  addReadings(readings: readonly Reading[]): void {
    this.pending.push(...readings);
    if (this.pending.length >= this.options.batch_max_readings) this.flush();
  }

  private flush(): void {
    while (this.pending.length > 0 && this.client) {
      const readings = this.pending.splice(0, this.options.batch_max_readings);
      const payload: TelemetryPayload = { v: SCHEMA_VERSION, seq: this.sequence.next(), readings };
      // mqtt.js keeps QoS 1 messages until their PUBACK, across reconnects; the durable outbox
      // takes over that job so that a restart loses nothing either.
      this.client.publish(this.topic('telemetry'), JSON.stringify(payload), { qos: 1 });
    }
  }

  /** Replaces the retained inventory and its comm statuses. */
  setInventory(entries: DeviceInventoryEntry[]): void {
    this.inventory = entries;
    this.publishInventoryNow();
  }

  private publishInventoryNow(): void {
    if (!this.client?.connected || this.inventory.length === 0) return;
    const payload: DevicesPayload = { v: SCHEMA_VERSION, ts: Date.now(), devices: this.inventory };
    this.client.publish(this.topic('devices'), JSON.stringify(payload), { qos: 1, retain: true });
  }

  /** Flushes what is queued, says goodbye with a retained offline status, and disconnects. */
  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    const client = this.client;
    if (!client) return;
    this.flush();
    if (client.connected) await client.publishAsync(this.topic('status'), this.status('offline'), { qos: 1, retain: true });
    await client.endAsync();
  }
}
