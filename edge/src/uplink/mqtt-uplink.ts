import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  SCHEMA_VERSION,
  topicFor,
  type AlarmsPayload,
  type AlarmTransition,
  type Channel,
  type CommandResultPayload,
  type DeviceInventoryEntry,
  type DevicesPayload,
  type EventsPayload,
  type GatehouseEvent,
  type OutboxStatus,
  type Reading,
  type StatusPayload,
  type TelemetryPayload,
} from '@gatehouse/protocols';
import type { AgentConfig } from '../config/schema.js';
import type { AppendOptions, Lane, Outbox, QueuedMessage } from '../outbox/outbox.js';
import { TokenBucket } from '../token-bucket.js';
import { NoReplayStore } from './no-replay-store.js';
import { reconnectDelayMs } from './reconnect.js';

export interface UplinkIdentity {
  site: string;
  gateway: string;
  bootId: string;
  agentVersion: string;
  configVersion: string;
}

const CHANNEL_OF_LANE = { alarms: 'alarms', events: 'events', telemetry: 'telemetry' } as const;

export interface UplinkCounters {
  published: number;
  acknowledged: number;
  reconnects: number;
}

/**
 * The gateway's MQTT session with the hub's broker. Everything it sends goes through the durable
 * outbox first and leaves it only on the broker's PUBACK. Alarms and events go before telemetry;
 * after an outage, readings taken since the reconnection go first and the backlog drains at a
 * bounded rate beside them, so that live values and alarms stay current while history catches up.
 * A retained birth on every connect (with the outbox's figures, refreshed periodically) and a
 * retained death as the Last Will tell the hub whether the gateway is there.
 */
export class MqttUplink {
  private client: MqttClient | undefined;
  private inventory: DeviceInventoryEntry[] = [];
  /** Messages published and not yet acknowledged on the current connection. */
  private readonly inFlight = new Set<QueuedMessage>();
  /** Bumped when a connection closes: callbacks of publishes on an older one are ignored. */
  private connection = 0;
  /** Telemetry created at or after this (the last connect) is live; older is backlog. */
  private liveSince = 0;
  private readonly backlog: TokenBucket;
  private backlogTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempt = 0;
  private stopping = false;
  private commandHandler: ((payload: Buffer) => void) | undefined;
  readonly counters: UplinkCounters = { published: 0, acknowledged: 0, reconnects: 0 };

  constructor(
    private readonly options: AgentConfig['uplink'],
    private readonly identity: UplinkIdentity,
    private readonly outbox: Outbox,
    private readonly clockSynchronised: () => boolean,
    private readonly log: Logger,
  ) {
    this.backlog = new TokenBucket(options.backlog_messages_per_s / 1000, options.backlog_messages_per_s, Date.now());
  }

  private topic(channel: Channel): string {
    return topicFor(this.identity.site, this.identity.gateway, channel);
  }

  private outboxStatus(): OutboxStatus {
    const stats = this.outbox.stats();
    return {
      depth: stats.depth,
      bytes: stats.bytes,
      oldest_age_ms: stats.oldestCreatedAt === null ? null : Math.max(0, Date.now() - stats.oldestCreatedAt),
      dropped: stats.dropped,
    };
  }

  private status(state: StatusPayload['state'], reason?: StatusPayload['reason']): string {
    const payload: StatusPayload = {
      v: SCHEMA_VERSION,
      state,
      ...(reason ? { reason } : {}),
      ts: Date.now(),
      agent_version: this.identity.agentVersion,
      config_version: this.identity.configVersion,
      boot_id: this.identity.bootId,
      ...(state === 'online' ? { clock_synchronised: this.clockSynchronised(), outbox: this.outboxStatus() } : {}),
    };
    return JSON.stringify(payload);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    const client = mqtt.connect(this.options.url, {
      clientId: `gatehouse-edge-${this.identity.site}-${this.identity.gateway}`,
      ...(this.options.username === undefined ? {} : { username: this.options.username }),
      ...(this.options.password === undefined ? {} : { password: this.options.password }),
      ...(this.options.ca_file === undefined ? {} : { ca: readFileSync(this.options.ca_file) }),
      clean: true,
      outgoingStore: new NoReplayStore(),
      // Reconnection is ours, with jittered backoff (see scheduleReconnect).
      reconnectPeriod: 0,
      will: { topic: this.topic('status'), payload: Buffer.from(this.status('offline', 'connection_lost')), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      this.log.info({ url: this.options.url, reconnects: this.counters.reconnects, outbox: this.outbox.stats().depth }, 'uplink connected');
      this.reconnectAttempt = 0;
      this.liveSince = Date.now();
      this.publishStatus();
      this.publishInventory();
      this.subscribeCommands();
      this.pump();
    });
    client.on('message', (topic, payload) => {
      if (topic === this.topic('cmd')) this.commandHandler?.(payload);
    });
    client.on('close', () => {
      this.releaseInFlight();
      this.scheduleReconnect();
    });
    client.on('error', (error) => this.log.warn({ err: error.message }, 'uplink error'));
    this.statusTimer = setInterval(() => this.publishStatus(), this.options.status_interval_ms);
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    const delay = reconnectDelayMs(this.reconnectAttempt++, this.options.reconnect_max_ms);
    if (this.reconnectAttempt === 1) this.log.warn({ url: this.options.url }, 'uplink lost; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopping || !this.client) return;
      this.counters.reconnects++;
      this.client.reconnect();
    }, delay);
  }

  private publishStatus(): void {
    if (this.client?.connected) this.client.publish(this.topic('status'), this.status('online'), { qos: 1, retain: true });
  }

  /** Queues readings (durably) for the hub; a large poll goes out as several messages. */
  addReadings(readings: readonly Reading[]): Promise<void> {
    const unsure = !this.clockSynchronised();
    const stamped = unsure ? readings.map((reading) => ({ ...reading, quality: 'uncertain' as const })) : readings;
    const appends: Array<Promise<number>> = [];
    for (let i = 0; i < stamped.length; i += this.options.batch_max_readings) {
      const batch = stamped.slice(i, i + this.options.batch_max_readings);
      appends.push(this.enqueue('telemetry', (seq) => JSON.stringify({ v: SCHEMA_VERSION, seq, readings: batch } satisfies TelemetryPayload)));
    }
    return Promise.all(appends).then(() => undefined);
  }

  /** Queues events; `state` (a reader's cursor) is written in the same outbox transaction. */
  addEvents(events: readonly GatehouseEvent[], state?: AppendOptions['state']): Promise<void> {
    return this.enqueue('events', (seq) => JSON.stringify({ v: SCHEMA_VERSION, seq, events: [...events] } satisfies EventsPayload), {
      ...(state === undefined ? {} : { state }),
    }).then(() => undefined);
  }

  /**
   * Queues a command's result for `…/cmd/result`, in the events lane (it never waits behind
   * telemetry), with `state` (the result kept for duplicate ids) in the same transaction.
   */
  addCommandResult(result: CommandResultPayload, state: AppendOptions['state']): Promise<void> {
    return this.enqueue('events', () => JSON.stringify(result), { channel: 'cmd/result', state }).then(() => undefined);
  }

  /**
   * Hands every message on the gateway's own `…/cmd` to `handler`. The session is clean, so the
   * subscription (QoS 1) is made again on every connect; a command sent while the gateway is
   * offline is not kept for it, and the hub's timeout answers for it.
   */
  onCommand(handler: (payload: Buffer) => void): void {
    this.commandHandler = handler;
    this.subscribeCommands();
  }

  private subscribeCommands(): void {
    if (!this.commandHandler || !this.client?.connected) return;
    this.client.subscribe(this.topic('cmd'), { qos: 1 }, (error) => {
      if (error) this.log.warn({ err: error.message }, 'uplink could not subscribe to commands');
      else this.log.info({ topic: this.topic('cmd') }, 'taking commands');
    });
  }

  addAlarms(alarms: readonly AlarmTransition[]): Promise<void> {
    return this.enqueue('alarms', (seq) => JSON.stringify({ v: SCHEMA_VERSION, seq, alarms: [...alarms] } satisfies AlarmsPayload)).then(
      () => undefined,
    );
  }

  private async enqueue(lane: Lane, build: (seq: number) => string, options?: AppendOptions): Promise<number> {
    const seq = await this.outbox.append(lane, build, options);
    this.pump();
    return seq;
  }

  /**
   * A closed connection takes its unacknowledged publishes with it: mqtt.js keeps no copy (see
   * NoReplayStore) and may never call them back, so they go back to the outbox's queue, to be sent
   * again after the reconnection, and their window places are freed.
   */
  private releaseInFlight(): void {
    this.connection++;
    for (const message of this.inFlight) message.inFlight = false;
    this.inFlight.clear();
  }

  /** Publishes from the outbox while the in-flight window has room. */
  private pump(): void {
    const client = this.client;
    while (client?.connected && !this.stopping && this.inFlight.size < this.options.in_flight) {
      const message = this.next();
      if (!message) return;
      const payload = this.outbox.payloadOf(message);
      message.inFlight = true;
      this.inFlight.add(message);
      this.counters.published++;
      const connection = this.connection;
      // mqtt.js calls back on the PUBACK, or with an error when the connection closes first; a
      // message whose connection closed is back in the queue and is sent again after reconnecting.
      client.publish(this.topic((message.channel as Channel | undefined) ?? CHANNEL_OF_LANE[message.lane]), payload, { qos: 1 }, (error) => {
        if (connection !== this.connection) return;
        message.inFlight = false;
        this.inFlight.delete(message);
        if (!error) {
          this.counters.acknowledged++;
          this.outbox.acknowledge(message);
        }
        this.pump();
      });
    }
  }

  private next(): QueuedMessage | undefined {
    const urgent = this.outbox.sendable('alarms') ?? this.outbox.sendable('events');
    if (urgent) return urgent;
    const live = this.outbox.sendable('telemetry', this.liveSince);
    if (live) return live;
    const backlog = this.outbox.sendable('telemetry');
    if (!backlog) return undefined;
    const grant = this.backlog.take(1, Date.now());
    if (grant.granted) return backlog;
    this.backlogTimer ??= setTimeout(() => {
      this.backlogTimer = undefined;
      this.pump();
    }, grant.waitMs);
    return undefined;
  }

  /** Replaces the retained inventory and its comm statuses. */
  setInventory(entries: DeviceInventoryEntry[]): void {
    this.inventory = entries;
    this.publishInventory();
  }

  private publishInventory(): void {
    if (!this.client?.connected || this.inventory.length === 0) return;
    const payload: DevicesPayload = { v: SCHEMA_VERSION, ts: Date.now(), devices: this.inventory };
    this.client.publish(this.topic('devices'), JSON.stringify(payload), { qos: 1, retain: true });
  }

  /** Says goodbye with a retained offline status and disconnects; the outbox keeps the rest. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.statusTimer);
    clearTimeout(this.backlogTimer);
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (!client) return;
    if (client.connected) await client.publishAsync(this.topic('status'), this.status('offline', 'shutdown'), { qos: 1, retain: true });
    await client.endAsync();
  }
}
