import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientSession, ClientSubscription, DataValue, OPCUACertificateManager, OPCUAClient } from 'node-opcua';
import type { Logger } from 'pino';
import type { Reading } from '@gatehouse/protocols';
import { decodeOpcuaValue, loadOpcuaStack, opcuaPointsOf, qualityOfStatus, type OpcuaPoint, type OpcuaProfile, type OpcuaStack } from '@gatehouse/devices';
import type { DeviceConfig, OpcuaBusConfig } from '../config/schema.js';
import type { PollSink } from '../poll/bus-poller.js';
import { CommState } from '../poll/comm-state.js';
import { reconnectDelayMs } from '../uplink/reconnect.js';
import { describeTarget, targetOf } from './nodes.js';

export interface OpcuaDevice {
  config: DeviceConfig;
  profile: OpcuaProfile;
}

export interface OpcuaBusOptions {
  bus: OpcuaBusConfig;
  devices: readonly OpcuaDevice[];
  sink: PollSink;
  log: Logger;
  /** The client's certificate store: its own certificate, and the server certificates it trusts. */
  pkiDir: string;
  now?: () => number;
}

interface DeviceState {
  id: string;
  node: string | undefined;
  profile: OpcuaProfile;
  points: OpcuaPoint[];
  /** Offline at the first failure: a lost session is not line noise to be ridden out. */
  comm: CommState;
  /** The points' problems last logged, so that a persistent one is logged once. */
  problems: string | undefined;
}

/** One mapped variable: a device's point and, once resolved on this connection, its NodeId. */
interface Monitored {
  device: DeviceState;
  point: OpcuaPoint;
  nodeId?: string;
  problem?: string;
}

interface Connection {
  client: OPCUAClient;
  session: ClientSession;
  subscription: ClientSubscription;
  items: Monitored[];
  /** Resolves with the reason the connection is to be dropped and made anew. */
  broken: Promise<string>;
  breakOff: (reason: string) => void;
}

/** HierarchicalReferences (ns=0;i=33): a browse path follows any of them, as `/` does in Part 4 A.2. */
const HIERARCHICAL_REFERENCES = 'ns=0;i=33';
/** How often the watchdog looks for a subscription that has gone quiet. */
const WATCHDOG_MS = 1000;

/**
 * The devices of one OPC UA server, on one session with ONE subscription: a monitored item per
 * mapped variable of every device, sampled by the server (`sampling_interval_ms`) and reported
 * when it changes (`publishing_interval_ms`), each change becoming a catalogue reading. Nothing is
 * polled.
 *
 * Connection loss: node-opcua's client reconnects by itself (`connectionStrategy`, backoff up to
 * `reconnect_max_ms`) and repairs the session: it reactivates it when the server kept it (and
 * republishes what was queued meanwhile), or creates a new session and transfers or re-creates the
 * subscription and its monitored items when the server was restarted. What it does not do, done here:
 * - the devices go offline (with the reason, their points `bad`) as soon as the connection is lost,
 *   and online again once it is repaired;
 * - after a repair the NodeIds are resolved again from the profile (namespace URIs, browse paths),
 *   and when they differ — a restarted server that numbers its namespaces otherwise — the whole
 *   session is made anew rather than watching the wrong variables;
 * - a subscription that falls silent (no change and no keep-alive for three keep-alive periods),
 *   is terminated, or whose repair failed, is dropped with its session and made anew, with backoff.
 */
export class OpcuaBusClient {
  private readonly devices: DeviceState[];
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private worker: Promise<void> | undefined;
  private opcua: OpcuaStack | undefined;
  /** The client connecting or connected now, which stop() disconnects. */
  private client: OPCUAClient | undefined;
  private current: Connection | undefined;
  private certificates: OPCUACertificateManager | undefined;
  private pending: Reading[] = [];
  /** When the bus's connection was lost, and why: logged once when it starts and once when it ends. */
  private outage: { since: number; reason: string } | undefined;

  constructor(private readonly options: OpcuaBusOptions) {
    this.now = options.now ?? Date.now;
    this.devices = options.devices.map(({ config, profile }) => {
      if (profile.protocol !== 'opcua') throw new Error(`device "${config.id}" on OPC UA bus "${options.bus.id}" has a ${String(profile.protocol)} profile`);
      return { id: config.id, node: config.node, profile, points: opcuaPointsOf(profile), comm: new CommState(1), problems: undefined };
    });
  }

  commSnapshot(device: string) {
    return this.devices.find((candidate) => candidate.id === device)?.comm.snapshot();
  }

  start(): void {
    this.worker ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.current?.breakOff('stopping');
    await this.client?.disconnect().catch(() => undefined);
    await this.worker;
  }

  private get endpoint(): string {
    return this.options.bus.endpoint;
  }

  private async run(): Promise<void> {
    if (this.devices.length === 0) return;
    const opcua = await loadOpcuaStack(this.options.log);
    this.opcua = opcua;
    if (this.abort.signal.aborted) return;
    mkdirSync(this.options.pkiDir, { recursive: true });
    this.certificates = new opcua.OPCUACertificateManager({
      rootFolder: this.options.pkiDir,
      automaticallyAcceptUnknownCertificate: this.options.bus.accept_unknown_certificate,
    });
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      let reason: string;
      try {
        const connection = await this.connect(opcua);
        attempt = 0;
        reason = await connection.broken;
        if (!this.abort.signal.aborted) this.options.log.warn({ endpoint: this.endpoint, reason }, 'opcua session dropped, to be made anew');
        this.current = undefined;
        await this.close(connection);
      } catch (error) {
        // node-opcua's messages run over several lines.
        reason = (error as Error).message.replace(/\s+/g, ' ').trim();
      }
      this.client = undefined;
      if (this.abort.signal.aborted) break;
      this.lost(reason);
      try {
        await sleep(reconnectDelayMs(attempt, this.options.bus.reconnect_max_ms), undefined, { signal: this.abort.signal });
      } catch {
        break; // stopping
      }
    }
    this.flush();
  }

  /** A client (which keeps trying until the server answers), a session, the NodeIds, and the subscription. */
  private async connect(opcua: OpcuaStack): Promise<Connection> {
    const { bus } = this.options;
    const client = opcua.OPCUAClient.create({
      applicationName: 'Gatehouse edge agent',
      clientName: `gatehouse-${bus.id}`,
      endpointMustExist: false,
      securityMode: { none: opcua.MessageSecurityMode.None, sign: opcua.MessageSecurityMode.Sign, sign_and_encrypt: opcua.MessageSecurityMode.SignAndEncrypt }[bus.security_mode],
      securityPolicy: bus.security_policy === 'none' ? opcua.SecurityPolicy.None : opcua.SecurityPolicy[bus.security_policy],
      // maxRetry -1: retry for ever, first to connect, then after every loss, until stop() disconnects.
      connectionStrategy: { initialDelay: 250, maxDelay: bus.reconnect_max_ms, maxRetry: -1, randomisationFactor: 0.5 },
      keepSessionAlive: true,
      requestedSessionTimeout: bus.session_timeout_ms,
      defaultTransactionTimeout: bus.timeout_ms,
      clientCertificateManager: this.certificates!,
    });
    this.client = client;
    client.on('backoff', (count) => {
      if (count === 0 || !this.outage) this.lost(`cannot connect to ${this.endpoint}`);
    });
    try {
      await client.connect(bus.endpoint);
      const session = await client.createSession();
      try {
        const items = await this.resolve(opcua, session);
        const subscription = await session.createSubscription2({
          requestedPublishingInterval: bus.publishing_interval_ms,
          requestedMaxKeepAliveCount: bus.keepalive_count,
          // The server keeps the subscription (and what it queued) this long without a publish request.
          requestedLifetimeCount: Math.max(3 * bus.keepalive_count, Math.ceil(bus.session_timeout_ms / bus.publishing_interval_ms)),
          maxNotificationsPerPublish: 0,
          publishingEnabled: true,
          priority: 100,
        });
        let breakOff: (reason: string) => void = () => undefined;
        const broken = new Promise<string>((resolve) => (breakOff = resolve));
        const connection: Connection = { client, session, subscription, items, broken, breakOff };
        this.current = connection;
        const monitored = items.filter((item) => item.nodeId !== undefined);
        if (monitored.length > 0) {
          const group = await subscription.monitorItems(
            monitored.map((item) => ({ nodeId: item.nodeId!, attributeId: opcua.AttributeIds.Value })),
            { samplingInterval: bus.sampling_interval_ms, queueSize: bus.queue_size, discardOldest: true },
            opcua.TimestampsToReturn.Neither,
          );
          group.monitoredItems.forEach((monitoredItem, index) => {
            const item = monitored[index]!;
            if (monitoredItem.statusCode.isNotGood()) item.problem = `${item.point.point}: ${item.nodeId!}: ${monitoredItem.statusCode.name}`;
          });
          group.on('changed', (_item, value: DataValue, index: number) => {
            if (this.current === connection && monitored[index]) this.changed(monitored[index], value);
          });
        }
        this.watch(opcua, connection);
        this.options.log.info(
          {
            endpoint: bus.endpoint,
            publishing_interval_ms: subscription.publishingInterval,
            keepalive_count: subscription.maxKeepAliveCount,
            monitored_items: monitored.length,
            unresolved: items.length - monitored.length,
          },
          'opcua subscription created',
        );
        this.up(items);
        return connection;
      } catch (error) {
        this.current = undefined;
        await session.close(true).catch(() => undefined);
        throw error;
      }
    } catch (error) {
      await client.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Every mapped variable's NodeId on this server today: namespace URIs looked up, browse paths translated. */
  private async resolve(opcua: OpcuaStack, session: ClientSession): Promise<Monitored[]> {
    const namespaces = await session.readNamespaceArray();
    const items = this.devices.flatMap((device) =>
      device.points.map((point) => ({ device, point, target: targetOf(point, device.node, device.profile.namespace, namespaces) })),
    );
    const where: Array<{ nodeId?: string; problem?: string }> = items.map(({ point, target }) =>
      'error' in target ? { problem: `${point.point}: ${target.error}` } : target.kind === 'node' ? { nodeId: target.nodeId } : {},
    );
    const paths = items.flatMap(({ target }, index) => ('kind' in target && target.kind === 'path' ? [{ index, target }] : []));
    if (paths.length > 0) {
      const translated = await session.translateBrowsePath(
        paths.map(({ target }) => ({
          startingNode: target.startingNode,
          relativePath: {
            elements: target.path.map((step) => ({
              referenceTypeId: HIERARCHICAL_REFERENCES,
              isInverse: false,
              includeSubtypes: true,
              targetName: { namespaceIndex: step.namespaceIndex, name: step.name },
            })),
          },
        })),
      );
      paths.forEach(({ index, target }, n) => {
        const result = translated[n];
        const found = result?.statusCode.isGood() ? result.targets?.[0]?.targetId : undefined;
        where[index] = found ? { nodeId: found.toString() } : { problem: `${items[index]!.point.point}: ${describeTarget(target)}: ${result?.statusCode.name ?? 'no answer'}` };
      });
    }
    return items.map(({ device, point }, index) => ({ device, point, ...where[index] }));
  }

  /** Session, subscription and connection events, and the watchdog, for one connection. */
  private watch(opcua: OpcuaStack, connection: Connection): void {
    const { client, session, subscription } = connection;
    const mine = () => this.current === connection || this.current === undefined;
    let lastHeard = this.now();
    let repairing = false;
    const heard = () => (lastHeard = this.now());
    subscription.on('keepalive', heard);
    subscription.on('received_notifications', heard);
    subscription.on('terminated', () => mine() && !repairing && connection.breakOff('the server terminated the subscription'));
    subscription.on('status_changed', (status) => mine() && status.isNotGood() && connection.breakOff(`subscription status ${status.name}`));
    session.on('session_closed', (status) => mine() && !repairing && connection.breakOff(`the server closed the session (${status.name})`));
    client.on('connection_lost', () => {
      repairing = true;
      if (mine()) this.lost(`connection to ${this.endpoint} lost`);
    });
    client.on('after_reconnection', (error) => {
      if (error && mine()) connection.breakOff(`reconnection failed: ${error.message}`);
    });
    client.on('connection_reestablished', () => {
      // node-opcua has a session again, with the subscription transferred or re-created: check
      // that the NodeIds it re-created the monitored items with are still the right ones.
      this.resolve(opcua, session)
        .then((items) => {
          repairing = false;
          heard();
          if (!mine()) return;
          const moved = items.find((item, index) => item.nodeId !== connection.items[index]?.nodeId);
          if (moved) return connection.breakOff(`${moved.device.id} ${moved.point.point} is now at ${moved.nodeId ?? moved.problem ?? '?'} on the restarted server`);
          this.up(connection.items);
        })
        .catch((error: unknown) => mine() && connection.breakOff(`after reconnection: ${(error as Error).message}`));
    });
    // A subscription hears from the server at least every keep-alive period (publishing interval ×
    // keep-alive count); three in a row missed, and the connection is dead however it looks.
    const timer = setInterval(() => {
      if (!mine() || repairing || client.isReconnecting) return heard();
      const limitMs = 3 * subscription.publishingInterval * subscription.maxKeepAliveCount + WATCHDOG_MS;
      if (this.now() - lastHeard > limitMs) connection.breakOff(`nothing from ${this.endpoint} for ${Math.round((this.now() - lastHeard) / 1000)} s`);
    }, WATCHDOG_MS);
    void connection.broken.then(() => clearInterval(timer));
  }

  private async close(connection: Connection): Promise<void> {
    // A dead server does not answer: do not wait on it for long.
    await Promise.race([connection.session.close(true).catch(() => undefined), sleep(1000, undefined, { ref: false })]);
    await connection.client.disconnect().catch(() => undefined);
  }

  /** A data change of one monitored item: a reading, quality by its StatusCode. */
  private changed(item: Monitored, value: DataValue): void {
    const ts = this.now();
    const quality = qualityOfStatus(value.statusCode.value);
    // Values from a repaired session may come before node-opcua says the repair is done: a value
    // is the surest sign the device is back.
    if (item.device.comm.isOffline && quality !== 'bad') {
      const change = item.device.comm.succeeded(ts);
      if (change) this.options.sink.commChanged(item.device.id, change);
    }
    const reading = (quality: Reading['quality'], decoded: Reading['value']): Reading => ({ device: item.device.id, point: item.point.point, ts, value: decoded, quality });
    if (quality === 'bad') {
      this.push([reading('bad', null)]);
      return;
    }
    const decoded = decodeOpcuaValue(item.point, this.opcua!.DataType[value.value.dataType], value.value.value);
    if ('error' in decoded) {
      this.logProblems(item.device, decoded.error);
      this.push([reading('bad', null)]);
      return;
    }
    this.push([reading(quality, decoded.value)]);
  }

  /** The connection is up (made, or repaired): devices with at least one variable found are online. */
  private up(items: readonly Monitored[]): void {
    const at = this.now();
    if (this.outage) {
      this.options.log.info({ endpoint: this.endpoint, outage_ms: at - this.outage.since }, 'opcua connection restored');
      this.outage = undefined;
    }
    for (const device of this.devices) {
      const mine = items.filter((item) => item.device === device);
      const problems = mine.flatMap((item) => (item.problem === undefined ? [] : [item.problem]));
      this.logProblems(device, problems.join('; ') || undefined);
      // Points whose variable is not there are bad from now on; their item reports nothing.
      this.push(mine.filter((item) => item.problem !== undefined).map((item) => ({ device: device.id, point: item.point.point, ts: at, value: null, quality: 'bad' as const })));
      const change = problems.length < mine.length ? device.comm.succeeded(at) : device.comm.failed(at, `no variable found: ${problems.join('; ')}`);
      if (change) this.options.sink.commChanged(device.id, change);
    }
  }

  /** The connection is gone or could not be made: every device offline with the reason, its points bad once. */
  private lost(reason: string): void {
    const at = this.now();
    if (!this.outage) {
      this.options.log.warn({ endpoint: this.endpoint, reason }, 'opcua connection lost');
      this.outage = { since: at, reason };
    }
    for (const device of this.devices) {
      const change = device.comm.failed(at, reason);
      if (change?.to !== 'offline') continue;
      this.push(device.points.map((point) => ({ device: device.id, point: point.point, ts: at, value: null, quality: 'bad' as const })));
      this.options.sink.commChanged(device.id, change);
    }
  }

  private logProblems(device: DeviceState, problems: string | undefined): void {
    if (problems !== undefined && problems !== device.problems) {
      this.options.log.warn({ device: device.id, problems }, 'opcua variables not read');
    }
    device.problems = problems;
  }

  /** Readings of one publish response go out together: the notifications of one response arrive in one turn. */
  private push(readings: readonly Reading[]): void {
    if (readings.length === 0) return;
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push(...readings);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const readings = this.pending;
    this.pending = [];
    this.options.sink.readings(readings);
  }
}
