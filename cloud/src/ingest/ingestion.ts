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
  type CommandResultPayload,
  type FieldIssue,
  type GatehouseEvent,
  type Reading,
  type StatusPayload,
} from '@gatehouse/protocols';
import type { AlarmInput } from '../alarms/alarm-book.js';
import type { HubRules } from '../dispatch/hub-rules.js';
import { GATEWAY_OFFLINE } from '../dispatch/topology.js';
import type { LiveFeed } from '../live/live-feed.js';
import type { BatchLedger } from '../store/batch-ledger.js';
import type { EventLog } from '../store/event-log.js';
import type { Registry } from '../store/registry.js';
import type { SqlClient } from '../store/sql.js';
import type { TelemetryReading, TelemetryStore, WriteResult } from '../store/telemetry/port.js';

/**
 * The channels the hub ingests. Retained state (status, inventory) goes to every replica, which
 * all keep the registry; streams go to every replica too unless the broker is told to split them
 * among a share group (MQTT 5 §4.8.2; see IngestionBroker.shareGroup).
 */
const STATE_CHANNELS: readonly Channel[] = ['status', 'devices'];
const STREAM_CHANNELS: readonly Channel[] = ['telemetry', 'events', 'alarms', 'cmd/result'];

/**
 * Connections that take a shared stream subscription. mqtt.js hands a connection's messages
 * over one at a time and acknowledges each when it is handled, as it must (PUBACKs go in the
 * order of the PUBLISHes, MQTT 3.1.1 §4.6 [MQTT-4.6.0-2]), so one connection stores one message
 * at a time and waits for each write, fsync included. Several connections in the share group let
 * writes overlap and the telemetry store batch them (group commit), while each message is still
 * acknowledged only after its write. Readings carry their timestamps and dedup is by
 * (gateway, seq), so the order in which connections store them changes nothing stored.
 */
export const SHARED_STREAM_CONNECTIONS = 4;

/**
 * How long a gateway's device kinds are trusted for a device they do not name yet; its
 * inventory (the `devices` channel, which every replica receives) replaces them at once.
 */
const KINDS_REFRESH_MS = 1000;
/** `last_seen` is kept to this resolution: a busy gateway's devices are marked once per period. */
const SEEN_RESOLUTION_MS = 1000;

/** How ingestion reaches its broker. */
export interface IngestionBroker {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  clientId: string;
  /**
   * A persistent session, for an external broker: what arrives while this replica is down waits
   * for it.
   */
  persistent: boolean;
  /**
   * With a persistent session: take telemetry through this share group (`$share/{group}/…`),
   * so that the replicas split it, over SHARED_STREAM_CONNECTIONS connections. Only for a broker
   * that keeps shared subscriptions across its own restarts: Mosquitto 2.0 restores a persistent
   * session and its queue from its persistence file but not the session's shared subscriptions,
   * so that what gateways publish after the restart, before the hub has subscribed again,
   * reaches no one. Unset: a plain subscription, which Mosquitto restores with the session;
   * every replica then takes every message, and the ledger stores each once.
   */
  shareGroup?: string | undefined;
}

/** The most of a rejected payload kept for diagnosis. */
const DEAD_LETTER_MAX_BYTES = 64 * 1024;

export interface IngestionCounters {
  messages: number;
  readings_stored: number;
  events_stored: number;
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
  events: EventLog;
  live: LiveFeed;
  log: Logger;
  /** An alarm transition, from a gateway's rules or about the gateway itself (see AlarmDesk.receive). */
  alarm(input: AlarmInput): Promise<void>;
  /** The hub's own alarm rules, shown every valid message (see HubRules). */
  rules?: Pick<HubRules, 'readings' | 'events'>;
  /** A gateway's answer to a command the hub sent (see Commander.settle). */
  commandResult(site: string, gateway: string, result: CommandResultPayload): Promise<void>;
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
    events_stored: 0,
    duplicates: 0,
    rejected: 0,
    store_retries: 0,
    lag_ms: 0,
    store_available: true,
  };
  private clients: MqttClient[] = [];
  private stopping = false;
  /** Each gateway's device kinds, by `site/gateway`, read from the registry when needed. */
  private readonly kinds = new Map<string, { kinds: Map<string, string | null>; readAt: number }>();
  /** By `site/gateway`: when its devices were last marked seen, which ever were, and which wait. */
  private readonly seen = new Map<string, { at: number; marked: Set<string>; pending: Set<string> }>();

  constructor(private readonly deps: IngestionDeps) {}

  async start(): Promise<void> {
    const { broker } = this.deps;
    const group = broker.persistent ? broker.shareGroup : undefined;
    const streams = STREAM_CHANNELS.map((channel) => (group ? `$share/${group}/${allGatewaysFilter(channel)}` : allGatewaysFilter(channel)));
    const filters = [...STATE_CHANNELS.map((channel) => allGatewaysFilter(channel)), ...streams];
    // The first connection keeps the replica's session name and takes state and streams; with
    // a share group, others take the shared streams too, each with a session of its own.
    await this.connect(broker.clientId, filters);
    const extra = group ? SHARED_STREAM_CONNECTIONS - 1 : 0;
    for (let index = 1; index <= extra; index++) await this.connect(`${broker.clientId}-${index}`, streams);
    this.deps.log.info({ broker: broker.url, client_id: broker.clientId, connections: 1 + extra, filters }, 'ingestion subscribed');
  }

  private async connect(clientId: string, filters: string[]): Promise<void> {
    const { broker, log } = this.deps;
    const client = mqtt.connect(broker.url, {
      clientId,
      ...(broker.username === undefined ? {} : { username: broker.username }),
      ...(broker.password === undefined ? {} : { password: broker.password }),
      clean: !broker.persistent,
      reconnectPeriod: 1000,
      // Subscribed again on every connection, below, whatever the broker says of the session.
      resubscribe: false,
    });
    this.clients.push(client);
    // mqtt.js sends the PUBACK of a QoS 1 message when this callback is called, and hands over
    // one message at a time: acknowledging after the write is what makes the write durable.
    client.handleMessage = (packet, done) => {
      this.handle(packet).then(
        () => done(),
        (error: unknown) => done(error as Error),
      );
    };
    client.on('error', (error) => log.warn({ err: error.message, client_id: clientId }, 'broker connection error'));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const subscribe = () => client.subscribeAsync(filters, { qos: 1 });
    await subscribe();
    // A broker that restarted may say it kept the session and still have lost subscriptions
    // (Mosquitto 2.0 forgets shared ones: see shareGroup), which mqtt.js would not renew.
    // Subscribing again is harmless ([MQTT-3.8.4-3]: it replaces the subscription without
    // interrupting its flow) and costs a resend of the retained status and inventory.
    client.on('connect', () => {
      subscribe().catch((error: unknown) => log.warn({ err: (error as Error).message, client_id: clientId }, 'subscribe failed'));
    });
  }

  /**
   * Publishes at QoS 1 on the replica's main connection, resolving on the broker's PUBACK. A
   * broker that is not connected now is an error at once: commands are for now, not for later.
   */
  async publish(topic: string, payload: string): Promise<void> {
    const client = this.clients[0];
    if (!client?.connected) throw new Error('the hub is not connected to its broker');
    await client.publishAsync(topic, payload, { qos: 1 });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.clients.map((client) => client.endAsync()));
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
        await this.withRetry(() => this.deps.alarm(gatewayOffline(site, gateway, decoded.payload)));
        await this.publishDevicesOf(site, gateway);
        return;
      }
      case 'devices': {
        const decoded = decodePayload('devices', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        await this.withRetry(() => this.deps.registry.applyInventory(site, gateway, decoded.payload));
        this.kinds.delete(`${site}/${gateway}`);
        await this.publishDevicesOf(site, gateway);
        return;
      }
      case 'telemetry': {
        const decoded = decodePayload('telemetry', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        return this.ingestTelemetry(packet, site, gateway, decoded.payload.seq, decoded.payload.readings);
      }
      case 'events': {
        const decoded = decodePayload('events', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        return this.ingestEvents(site, gateway, decoded.payload.seq, decoded.payload.events);
      }
      case 'alarms': {
        const decoded = decodePayload('alarms', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        return this.raise(decoded.payload.alarms.map((transition) => ({ site, gateway, source: hubDeviceId(site, gateway, transition.device), ...transition })));
      }
      case 'cmd/result': {
        const decoded = decodePayload('cmd/result', packet.payload);
        if (!decoded.ok) return this.reject(packet, decoded.issues);
        return this.withRetry(() => this.deps.commandResult(site, gateway, decoded.payload));
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
    const kinds = await this.kindsOf(site, gateway, readings);
    // Before the ledger: every replica's rules see every message (see HubRules).
    await this.raise(this.deps.rules?.readings(site, gateway, readings, kinds) ?? []);
    if (await this.withRetry(() => this.deps.ledger.has(batch))) {
      this.counters.duplicates++;
      return;
    }
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
    await this.markSeen(site, gateway, readings);
    this.deps.live.publish({
      type: 'readings',
      readings: toStore.map(({ device, point, ts, value, quality }) => ({ device, point, ts, value, quality })),
    });
  }

  /**
   * Events are few and each matters (a door forced, a plate read at the barrier), so they are
   * kept in the relational store, where the event log's unique key makes a replay a no-op.
   * Devices heard of only through their events (cameras, the gateway's own door lines) are
   * registered by being marked seen.
   */
  private async ingestEvents(site: string, gateway: string, seq: number, events: GatehouseEvent[]): Promise<void> {
    await this.raise(this.deps.rules?.events(site, gateway, events) ?? []);
    const stored = await this.withRetry(() => this.deps.events.append(site, gateway, seq, events));
    if (stored.length === 0) {
      this.counters.duplicates++;
      return;
    }
    this.counters.events_stored += stored.length;
    await this.markSeen(site, gateway, events);
    this.deps.live.publish({ type: 'events', events: stored });
  }

  /**
   * The kinds of a gateway's devices, from the registry once and then from memory until its
   * inventory changes them, or, for a device they do not name, at most every KINDS_REFRESH_MS.
   */
  /** Alarm transitions to the desk, one at a time, each retried while the store fails. */
  private async raise(inputs: readonly AlarmInput[]): Promise<void> {
    for (const input of inputs) await this.withRetry(() => this.deps.alarm(input));
  }

  private async kindsOf(site: string, gateway: string, readings: readonly Reading[]): Promise<Map<string, string | null>> {
    const key = `${site}/${gateway}`;
    const now = Date.now();
    const cached = this.kinds.get(key);
    const stale = !cached || (now - cached.readAt >= KINDS_REFRESH_MS && readings.some((reading) => !cached.kinds.get(reading.device)));
    if (!stale) return cached.kinds;
    const kinds = await this.withRetry(() => this.deps.registry.kindsOf(site, gateway));
    this.kinds.set(key, { kinds, readAt: now });
    return kinds;
  }

  /**
   * Marks devices seen: at once for a device this hub has not marked yet (which registers it),
   * otherwise with the gateway's other devices heard since, at most once per SEEN_RESOLUTION_MS.
   */
  private async markSeen(site: string, gateway: string, readings: ReadonlyArray<{ device: string }>): Promise<void> {
    const key = `${site}/${gateway}`;
    const now = Date.now();
    let state = this.seen.get(key);
    if (!state) this.seen.set(key, (state = { at: 0, marked: new Set(), pending: new Set() }));
    let unmarked = false;
    for (const reading of readings) {
      state.pending.add(reading.device);
      if (!state.marked.has(reading.device)) unmarked = true;
    }
    if (!unmarked && now - state.at < SEEN_RESOLUTION_MS) return;
    const devices = [...state.pending];
    await this.withRetry(() => this.deps.registry.markSeen(site, gateway, devices, now));
    for (const device of devices) {
      state.marked.add(device);
      state.pending.delete(device);
    }
    state.at = now;
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

/**
 * A gateway that went offline is an alarm of its own, under which the silence of its devices
 * belongs. A lost connection (its Last Will) is major and pages; an agent its operator stopped
 * (it said goodbye) is a warning on the dashboard, which opens no work order by default, so that
 * restarts while commissioning page nobody. Stamped on arrival: a Last Will carries the time it
 * was written, at the gateway's connect, not the time of the loss.
 */
function gatewayOffline(site: string, gateway: string, status: Pick<StatusPayload, 'state' | 'reason'>): AlarmInput {
  const stopped = status.reason === 'shutdown';
  return {
    site,
    gateway,
    source: `${site}.${gateway}`,
    rule: GATEWAY_OFFLINE,
    state: status.state === 'offline' ? 'raised' : 'cleared',
    severity: stopped ? 'warning' : 'major',
    ts: Date.now(),
    message:
      status.state === 'online'
        ? `gateway ${gateway} is back online`
        : stopped
          ? `gateway ${gateway} was stopped`
          : `gateway ${gateway} lost its connection to the hub`,
  };
}
