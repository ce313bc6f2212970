import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  allGatewaysFilter,
  decodePayload,
  describeIssues,
  parseTopic,
  type Channel,
  type FieldIssue,
} from '@gatehouse/protocols';
import type { LiveFeed } from '../live/live-feed.js';
import type { Registry } from '../store/registry.js';
import type { SqlClient } from '../store/sql.js';
import type { TelemetryStore } from '../store/telemetry-store.js';

/** The channels the hub ingests. */
const INGESTED: readonly Channel[] = ['status', 'devices', 'telemetry'];

/** The most of a rejected payload kept for diagnosis. */
const DEAD_LETTER_MAX_BYTES = 64 * 1024;

export interface IngestionCounters {
  messages: number;
  readings_stored: number;
  duplicates: number;
  rejected: number;
  store_retries: number;
}

export interface IngestionDeps {
  brokerUrl: string;
  db: SqlClient;
  telemetry: TelemetryStore;
  registry: Registry;
  live: LiveFeed;
  log: Logger;
}

/**
 * Takes gateway messages off the broker, validates them against the contract and stores them.
 * A message is acknowledged to the broker only once what it carries is stored, so that a hub
 * that dies mid-write gets the message again; while the store is failing it retries and stops
 * taking new messages (backpressure) rather than dropping them.
 */
export class Ingestion {
  readonly counters: IngestionCounters = { messages: 0, readings_stored: 0, duplicates: 0, rejected: 0, store_retries: 0 };
  private client: MqttClient | undefined;
  private stopping = false;

  constructor(private readonly deps: IngestionDeps) {}

  async start(): Promise<void> {
    const client = mqtt.connect(this.deps.brokerUrl, {
      clientId: `gatehouse-hub-${randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 1000,
    });
    this.client = client;
    // mqtt.js sends the PUBACK of a QoS 1 message when this callback is called, and hands over
    // one message at a time: acknowledging after the write is what makes the write durable.
    client.handleMessage = (packet, done) => {
      this.handle(packet).then(
        () => done(),
        (error: unknown) => done(error as Error),
      );
    };
    client.on('error', (error) => this.deps.log.warn({ err: error.message }, 'broker connection error'));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(INGESTED.map((channel) => allGatewaysFilter(channel)), { qos: 1 });
    this.deps.log.info({ broker: this.deps.brokerUrl, channels: INGESTED }, 'ingestion subscribed');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.client?.endAsync();
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    this.counters.messages++;
    const topic = parseTopic(packet.topic);
    if (!topic) return this.reject(packet, [{ path: 'topic', message: 'not a Gatehouse topic' }]);
    const { site, gateway, channel } = topic;
    // A retained message is cleared by an empty payload; there is nothing to ingest.
    if (packet.payload.length === 0) return;
    switch (channel) {
      case 'status': {
        const decoded = decodePayload('status', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        await this.withRetry(() => this.deps.registry.recordGatewayStatus(site, gateway, decoded.payload));
        this.deps.log.info({ site, gateway, state: decoded.payload.state }, 'gateway status');
        await this.publishDevicesOf(site, gateway);
        return;
      }
      case 'devices': {
        const decoded = decodePayload('devices', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        await this.withRetry(() => this.deps.registry.applyInventory(site, gateway, decoded.payload));
        await this.publishDevicesOf(site, gateway);
        return;
      }
      case 'telemetry': {
        const decoded = decodePayload('telemetry', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        const { seq, readings } = decoded.payload;
        const outcome = await this.withRetry(() => this.deps.telemetry.writeBatch({ site, gateway, seq, readings }));
        if (outcome.duplicate) {
          this.counters.duplicates++;
          return;
        }
        this.counters.readings_stored += outcome.stored.length;
        const devices = readings.map((reading) => reading.device);
        await this.withRetry(() => this.deps.registry.markSeen(site, gateway, devices, Date.now()));
        this.deps.live.publish({ type: 'readings', readings: outcome.stored });
        return;
      }
      default:
        return this.reject(packet, [{ path: 'topic', message: `the hub does not ingest "${channel}"` }]);
    }
  }

  private async publishDevicesOf(site: string, gateway: string): Promise<void> {
    const devices = await this.deps.registry.listDevices();
    for (const device of devices) {
      if (device.site === site && device.gateway === gateway) this.deps.live.publish({ type: 'device', device });
    }
  }

  /** Counts, logs and keeps a rejected message; it is acknowledged so that it is not redelivered. */
  private async reject(packet: IPublishPacket, issues: FieldIssue[]): Promise<void> {
    this.counters.rejected++;
    const reason = describeIssues(issues);
    this.deps.log.warn({ topic: packet.topic, reason, bytes: packet.payload.length }, 'payload rejected');
    const payload = Buffer.from(packet.payload).subarray(0, DEAD_LETTER_MAX_BYTES).toString('utf8');
    await this.withRetry(() =>
      this.deps.db.query('insert into dead_letters (topic, reason, payload) values ($1, $2, $3)', [packet.topic, reason, payload]),
    );
  }

  /** Retries a store operation until it succeeds, with backoff; the broker holds what waits. */
  private async withRetry<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (this.stopping) throw error;
        this.counters.store_retries++;
        const delay = Math.min(30_000, 250 * 2 ** attempt);
        if (attempt === 0) this.deps.log.error({ err: error }, 'store write failed; retrying');
        await sleep(delay);
      }
    }
  }
}
