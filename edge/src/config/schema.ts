import { z } from 'zod';
import { AlarmRules, dlt645, Identifier } from '@gatehouse/protocols';
import { OPCUA_BROWSE_PATH, OPCUA_NODE_ID } from '@gatehouse/devices';
import { GpioConfig } from '../gpio/config.js';
import { LprConfig } from '../lpr/config.js';

/**
 * The agent's configuration file. Defaults are the values an installer would pick on a typical
 * site, so that a minimal file names only what is particular to the site. Objects are strict: a
 * misspelt key is an error naming it, not a setting silently ignored.
 */
/** Serial line settings. Modbus over Serial Line V1.02 §2.5.1 makes even parity the default. */
const lineSettings = {
  baud: z.number().int().min(300).max(921_600).default(9600),
  parity: z.enum(['none', 'even', 'odd']).default('even'),
  data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
  stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
};

const busSettings = {
  id: Identifier,
  /** How long a device on this bus may take to answer one request. */
  timeout_ms: z.number().int().min(10).max(60_000).default(1000),
  /**
   * The most of the bus's time that probing offline devices may take. A dead device would
   * otherwise cost a timeout every cycle and starve the live ones.
   */
  probe_share: z.number().min(0.001).max(0.5).default(0.02),
};

const TcpBus = z.strictObject({
  ...busSettings,
  transport: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  /** Transactions in flight at once, one connection each; 1 for gateways onto a serial line. */
  max_concurrent: z.number().int().min(1).max(16).default(1),
});

const RtuBus = z.strictObject({
  ...busSettings,
  transport: z.literal('rtu'),
  /** The serial device, e.g. /dev/ttyUSB0 or /dev/ttyS1. */
  path: z.string().min(1),
  ...lineSettings,
});

/** RTU frames through an RS-485-to-Ethernet device server; the line settings are its serial side. */
const RtuOverTcpBus = z.strictObject({
  ...busSettings,
  transport: z.literal('rtu-over-tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  ...lineSettings,
});

/**
 * DL/T 645-2007 meters on RS-485, polled by the DL/T 645 master. Meters leave the factory at
 * 2400 baud, 8 data bits, even parity, 1 stop bit; a device on this bus has a meter `address`.
 */
const Dlt645Bus = z.strictObject({
  ...busSettings,
  transport: z.literal('dlt645'),
  path: z.string().min(1),
  ...lineSettings,
  baud: z.number().int().min(300).max(921_600).default(2400),
  /** 0xFE bytes sent before each request, so that a meter's receiver is awake when the frame starts. */
  wake_up_bytes: z.number().int().min(0).max(16).default(dlt645.DEFAULT_WAKE_UP_BYTES),
});

/**
 * An OPC UA server (a lift controller, a building management server): the agent holds one session
 * with one subscription, and the server reports each mapped variable of every device on the bus
 * when it changes; nothing is polled. A device on this bus names its `node`.
 */
const OpcuaBus = z
  .strictObject({
    id: Identifier,
    transport: z.literal('opcua'),
    /** e.g. opc.tcp://10.20.0.50:4840 */
    endpoint: z.string().regex(/^opc\.tcp:\/\/[^/\s]+(\/\S*)?$/, 'an opc.tcp:// URL, e.g. opc.tcp://10.20.0.50:4840'),
    security_mode: z.enum(['none', 'sign', 'sign_and_encrypt']).default('none'),
    security_policy: z.enum(['none', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']).default('none'),
    /**
     * With security: trust whatever certificate the server presents. Otherwise it must be in the
     * gateway's trust list, {data_dir}/opcua-pki/trusted/certs (a refused one is put in rejected/).
     */
    accept_unknown_certificate: z.boolean().default(false),
    /** How often the server sends what changed, at most (OPC UA's publishing interval). */
    publishing_interval_ms: z.number().int().min(50).max(60_000).default(250),
    /** How often the server looks at each variable for a change; 0: on every change, where the server can. */
    sampling_interval_ms: z.number().int().min(0).max(60_000).default(100),
    /** Changes the server keeps per variable between two publishes, so that a quick flip is not lost. */
    queue_size: z.number().int().min(1).max(1000).default(10),
    /** Publishing intervals without a change after which the server still sends a keep-alive. */
    keepalive_count: z.number().int().min(1).max(1000).default(10),
    /** How long the server keeps the session (and the subscription's queued changes) for a gateway that is gone. */
    session_timeout_ms: z.number().int().min(10_000).max(3_600_000).default(60_000),
    /** How long one request (connect, browse, create the subscription) may take. */
    timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
    /** The longest wait between reconnection attempts while the server is unreachable. */
    reconnect_max_ms: z.number().int().min(100).max(600_000).default(10_000),
  })
  .superRefine((bus, ctx) => {
    if ((bus.security_mode === 'none') !== (bus.security_policy === 'none')) {
      ctx.addIssue({
        code: 'custom',
        path: ['security_policy'],
        message: bus.security_mode === 'none' ? 'security_mode none takes security_policy none' : `security_mode ${bus.security_mode} needs a policy, e.g. Basic256Sha256`,
      });
    }
  });

export const Bus = z.discriminatedUnion('transport', [TcpBus, RtuBus, RtuOverTcpBus, Dlt645Bus, OpcuaBus]);

export const Device = z.strictObject({
  id: Identifier,
  bus: Identifier,
  /** The Modbus unit id (slave address); a device on a Modbus bus has one. */
  unit: z.number().int().min(1).max(247).optional(),
  /** The DL/T 645 meter address as on its nameplate; a device on a dlt645 bus has one instead of a unit. */
  address: dlt645.MeterAddress.optional(),
  /**
   * On an opcua bus: the device's object on the server, by its browse path from the Objects
   * folder (`Lifts/Car1`, names in the profile's namespace) or by its NodeId
   * (`nsu=urn:vendor:lift;s=Car1`); the profile's browse paths start there. Default: Objects.
   */
  node: z
    .string()
    .refine((node) => OPCUA_NODE_ID.test(node) || OPCUA_BROWSE_PATH.test(node), 'a browse path such as "Lifts/Car1" or a NodeId such as "ns=2;s=Car1"')
    .optional(),
  /** A shipped profile id, or the path of a profile file relative to this config. */
  profile: z.string().min(1),
  /** 0 polls the device as often as the bus allows. */
  poll_interval_ms: z.number().int().min(0).max(86_400_000).default(5000),
  /** Consecutive failed polls after which the device is reported offline. */
  offline_after_failures: z.number().int().min(1).max(100).default(3),
  /** Immediate retries of a request that got no valid answer. */
  retries: z.number().int().min(0).max(5).default(1),
  /** The device's time from the end of a request to its answer, for planning requests. */
  turnaround_ms: z.number().min(0).max(5000).default(20),
  /** The longest wait between probes of an offline device. */
  max_probe_interval_ms: z.number().int().min(1000).max(86_400_000).default(300_000),
});

export const Uplink = z.strictObject({
  url: z.string().regex(/^mqtts?:\/\/.+/, 'an mqtt:// or mqtts:// URL'),
  username: z.string().optional(),
  password: z.string().optional(),
  /** Written by `gatehouse-edge enroll` (mode 0600); its MQTT username and password are used. */
  credentials_file: z.string().min(1).optional(),
  /** A PEM CA to trust for an mqtts:// broker with a private or self-signed certificate. */
  ca_file: z.string().min(1).optional(),
  /** A poll's readings larger than this go out as several telemetry messages. */
  batch_max_readings: z.number().int().min(1).max(10_000).default(1000),
  /** QoS 1 messages published and not yet acknowledged by the broker, at most. */
  in_flight: z.number().int().min(1).max(1000).default(64),
  /** How fast an outage's backlog drains, so that live values and alarms keep going first. */
  backlog_messages_per_s: z.number().int().min(1).max(100_000).default(200),
  /** How often the retained status (with the outbox's figures) is refreshed. */
  status_interval_ms: z.number().int().min(1000).max(3_600_000).default(60_000),
  /** The longest wait between reconnection attempts; each wait is drawn at random below it. */
  reconnect_max_ms: z.number().int().min(100).max(600_000).default(60_000),
});

export const Outbox = z.strictObject({
  /** Disk the outbox may use; past it the oldest telemetry is dropped (counted, alarmed). */
  quota_mb: z.number().min(0.01).max(1_000_000).default(512),
});

export const Metrics = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  /** Port of GET /metrics (Prometheus text format); 0 picks a free one. */
  port: z.number().int().min(0).max(65535).default(9464),
});

export const Clock = z.strictObject({
  /**
   * Also require systemd-timesyncd to report the clock synchronised. Without it, only a clock
   * that is plainly wrong (before this agent was built) marks readings uncertain.
   */
  require_sync: z.boolean().default(false),
});

export const AgentConfig = z
  .strictObject({
    site: Identifier,
    gateway: Identifier,
    /** Defaults to a folder named after the gateway under GATEHOUSE_DATA_DIR. */
    data_dir: z.string().min(1).optional(),
    uplink: Uplink,
    outbox: Outbox.prefault({}),
    metrics: Metrics.prefault({}),
    clock: Clock.prefault({}),
    /** None for a gateway that only listens to cameras or watches its own door lines. */
    buses: z.array(Bus).default([]),
    devices: z.array(Device).default([]),
    /** Evaluated at the gateway, so that they fire while the uplink is down. */
    alarms: AlarmRules.default([]),
    /** Doors wired to the gateway's own digital lines. */
    gpio: GpioConfig.optional(),
    /** The listener for plate reads pushed by LPR cameras; none when absent. */
    lpr: LprConfig.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.devices.length === 0 && !config.gpio && !config.lpr) {
      ctx.addIssue({ code: 'custom', path: ['devices'], message: 'a gateway needs something to watch: devices on its buses, gpio doors or an lpr listener' });
    }
    const buses = new Set<string>();
    config.buses.forEach((bus, index) => {
      if (buses.has(bus.id)) ctx.addIssue({ code: 'custom', path: ['buses', index, 'id'], message: `bus "${bus.id}" is defined twice` });
      buses.add(bus.id);
    });
    const transports = new Map(config.buses.map((bus) => [bus.id, bus.transport]));
    const devices = new Set<string>();
    const units = new Set<string>();
    config.devices.forEach((device, index) => {
      if (devices.has(device.id)) {
        ctx.addIssue({ code: 'custom', path: ['devices', index, 'id'], message: `device "${device.id}" is defined twice` });
      }
      devices.add(device.id);
      if (!buses.has(device.bus)) {
        ctx.addIssue({ code: 'custom', path: ['devices', index, 'bus'], message: `no bus "${device.bus}" is defined` });
      }
      if (transports.get(device.bus) === 'opcua') {
        // An OPC UA device is found by its node on the server; unit ids and addresses mean nothing there.
        for (const field of ['unit', 'address'] as const) {
          if (device[field] === undefined) continue;
          ctx.addIssue({ code: 'custom', path: ['devices', index, field], message: `a device on an opcua bus has a node, not ${field === 'unit' ? 'a unit id' : 'an address'}` });
        }
        const nodeKey = `${device.bus}/node:${device.node ?? ''}`;
        if (units.has(nodeKey)) ctx.addIssue({ code: 'custom', path: ['devices', index, 'node'], message: `node "${device.node ?? ''}" is already a device on bus "${device.bus}"` });
        units.add(nodeKey);
        return;
      }
      if (device.node !== undefined) ctx.addIssue({ code: 'custom', path: ['devices', index, 'node'], message: 'only a device on an opcua bus has a node' });
      // A Modbus device is reached by its unit id, a DL/T 645 meter by its address.
      const meter = transports.get(device.bus) === 'dlt645';
      const [field, other] = meter ? (['address', 'unit'] as const) : (['unit', 'address'] as const);
      const key = device[field];
      const issue = (at: string, message: string) => ctx.addIssue({ code: 'custom', path: ['devices', index, at], message });
      if (key === undefined) issue(field, meter ? 'a meter on a dlt645 bus needs its address' : 'a device on a Modbus bus needs its unit id');
      if (device[other] !== undefined) issue(other, meter ? 'a meter on a dlt645 bus has an address, not a unit id' : 'only a meter on a dlt645 bus has an address');
      const unitKey = `${device.bus}/${key}`;
      if (key !== undefined && units.has(unitKey)) issue(field, `${field} ${key} is already used on bus "${device.bus}"`);
      units.add(unitKey);
    });
    config.gpio?.doors.forEach((door, index) => {
      if (devices.has(door.device)) {
        ctx.addIssue({ code: 'custom', path: ['gpio', 'doors', index, 'device'], message: `"${door.device}" is already a device on a bus` });
      }
    });
  });

export type AgentConfig = z.infer<typeof AgentConfig>;
export type BusConfig = z.infer<typeof Bus>;
export type Dlt645BusConfig = Extract<BusConfig, { transport: 'dlt645' }>;
export type OpcuaBusConfig = Extract<BusConfig, { transport: 'opcua' }>;
export type DeviceConfig = z.infer<typeof Device>;
