import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  allGatewaysFilter,
  decodePayload,
  describeIssues,
  hubDeviceId,
  parseTopic,
  type Channel,
  type FieldIssue,
  type Reading,
} from '@gatehouse/protocols';
import type { LiveFeed } from '../live/live-feed.js';
import type { BatchLedger } from '../store/batch-ledger.js';
import type { Registry } from '../store/registry.js';
import type { SqlClient } from '../store/sql.js';
import type { TelemetryReading, TelemetryStore, WriteResult } from '../store/telemetry/port.js';

/**
 * The channels the hub ingests. Retained state (status, inventory) goes to every replica, which
 * all keep the registry; streams go to one replica each through a shared subscription
 * (MQTT 5 §4.8.2), which an external broker spreads across the replicas.
 */
const STATE_CHANNELS: readonly Channel[] = ['status', 'devices'];
const STREAM_CHANNELS: readonly Channel[] = ['telemetry'];
const SHARE_GROUP = 'gatehouse-hub';

/** How ingestion reaches its broker. */
export interface IngestionBroker {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  clientId: string;
  /**
   * A persistent session and shared subscriptions, for an external broker: what arrives while
   * this replica is down waits for it (or goes to another replica).
   */
  persistent: boolean;
}

/** The most of a rejected payload kept for diagnosis. */
const DEAD_LETTER_MAX_BYTES = 64 * 1024;

export interface IngestionCounters {
  messages: number;
  readings_stored: number;
  duplicates: number;
  rejected: number;
  store_retries: number;
  /** Milliseconds between the oldest reading of the last stored batch being read and being stored. */
  lag_ms: number;
  /** False while the stores refuse writes and ingestion is holding the broker back. */
  store_available: boolean;
}

export interface IngestionDeps {
  broker: IngestionBroker;
  db: SqlClient;
  telemetry: TelemetryStore;
  registry: Registry;
  ledger: BatchLedger;
  live: LiveFeed;
  log: Logger;
}

/**
 * Takes gateway messages off the broker, validates them against the contract and stores them.
 * A message is acknowledged to the broker only once what it carries is stored, so that a hub
 * that dies mid-write gets the message again; while the store is failing it retries and stops
 * taking new messages (backpressure) rather than dropping them. What a store refuses outright
 * is dead-lettered like an invalid payload, because it would be refused again.
 */
export class Ingestion {
  readonly counters: IngestionCounters = {
    messages: 0,
    readings_stored: 0,
    duplicates: 0,
    rejected: 0,
    store_retries: 0,
    lag_ms: 0,
    store_available: true,
  };
  private client: MqttClient | undefined;
  private stopping = false;

  constructor(private readonly deps: IngestionDeps) {}

  async start(): Promise<void> {
    const { broker } = this.deps;
    const client = mqtt.connect(broker.url, {
      clientId: broker.clientId,
      ...(broker.username === undefined ? {} : { username: broker.username }),
      ...(broker.password === undefined ? {} : { password: broker.password }),
      clean: !broker.persistent,
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
    const streams = STREAM_CHANNELS.map((channel) =>
      broker.persistent ? `$share/${SHARE_GROUP}/${allGatewaysFilter(channel)}` : allGatewaysFilter(channel),
    );
    const filters = [...STATE_CHANNELS.map((channel) => allGatewaysFilter(channel)), ...streams];
    await client.subscribeAsync(filters, { qos: 1 });
    this.deps.log.info({ broker: broker.url, client_id: broker.clientId, filters }, 'ingestion subscribed');
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
        return this.ingestTelemetry(packet, site, gateway, decoded.payload.seq, decoded.payload.readings);
      }
      default:
        return this.reject(packet, [{ path: 'topic', message: `the hub does not ingest "${channel}"` }]);
    }
  }

  /**
   * Dedup lives in the relational store whatever keeps the readings: check, write, then record
   * (see BatchLedger for why a crash between the write and the record double-counts nothing).
   */
  private async ingestTelemetry(packet: IPublishPacket, site: string, gateway: string, seq: number, readings: Reading[]): Promise<void> {
    const batch = { site, gateway, seq };
    if (await this.withRetry(() => this.deps.ledger.has(batch))) {
      this.counters.duplicates++;
      return;
    }
    const kinds = await this.withRetry(() => this.deps.registry.kindsOf(site, gateway));
    const toStore: TelemetryReading[] = readings.map((reading) => ({
      site,
      gateway,
      device: hubDeviceId(site, gateway, reading.device),
      kind: kinds.get(reading.device) ?? null,
      point: reading.point,
      ts: reading.ts,
      value: reading.value,
      quality: reading.quality,
    }));
    const outcome = await this.withRetry(async (): Promise<WriteResult> => {
      const result = await this.deps.telemetry.write(toStore);
      // Unavailable or unauthorized: throw, so that the retry loop holds the broker until it heals.
      if (!result.ok && result.error.code !== 'rejected') throw result.error;
      return result;
    });
    if (!outcome.ok) return this.reject(packet, [{ path: 'readings', message: outcome.error.message }]);
    await this.withRetry(() => this.deps.ledger.record(batch));
    this.counters.readings_stored += toStore.length;
    this.counters.lag_ms = Math.max(0, Date.now() - readings.reduce((oldest, reading) => Math.min(oldest, reading.ts), Infinity));
    await this.withRetry(() => this.deps.registry.markSeen(site, gateway, readings.map((reading) => reading.device), Date.now()));
    this.deps.live.publish({
      type: 'readings',
      readings: toStore.map(({ device, point, ts, value, quality }) => ({ device, point, ts, value, quality })),
    });
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

  /**
   * Retries a store operation until it succeeds, with backoff; the broker holds what waits. The
   * outage is logged once when it starts and once when it ends, with its length.
   */
  private async withRetry<T>(operation: () => Promise<T>): Promise<T> {
    let outageStartedAt: number | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await operation();
        if (outageStartedAt !== undefined) {
          this.counters.store_available = true;
          this.deps.log.info({ outage_ms: Date.now() - outageStartedAt }, 'store recovered');
        }
        return result;
      } catch (error) {
        if (this.stopping) throw error;
        this.counters.store_retries++;
        if (outageStartedAt === undefined) {
          outageStartedAt = Date.now();
          this.counters.store_available = false;
          this.deps.log.error({ err: error }, 'store write failed; retrying');
        }
        await sleep(Math.min(30_000, 250 * 2 ** attempt));
      }
    }
  }
}
