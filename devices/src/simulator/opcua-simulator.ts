import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { UAObject, UAVariable } from 'node-opcua';
import type { Logger } from 'pino';
import type { RegisterValue } from '@gatehouse/protocols';
import type { OpcuaProfile } from '../profile/schema.js';
import type { DeviceBehaviour, DeviceSimulator } from './device-simulator.js';
import { DEFAULT_ELEVATOR, ElevatorBehaviour } from './elevator.js';
import { encodeOpcuaValue, opcuaPointsOf, type OpcuaPoint } from './opcua-profile.js';
import { loadOpcuaStack } from './opcua-stack.js';
import { ControlError } from './timeline.js';

/**
 * Devices of one OPC UA profile behind one OPC UA server (node-opcua), each moving as its kind
 * does. Each unit is an object below Objects (`Lifts/Car1`, `Lifts/Car2`, … for lifts) with the
 * profile's variables under it at their browse paths, NodeIds `s=Car1.Floor` in the profile's
 * namespace. A variable is written only when its value changes, so that a subscriber hears of each
 * change once, as from a controller; the server samples it for monitored items. Security: none
 * (unless `secure`).
 */
export interface OpcuaSimulatorOptions {
  profile: OpcuaProfile;
  units: readonly number[];
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (the endpoint URL then says which). */
  port: number;
  /** The server's certificate store; node-opcua makes its certificate there on the first start. */
  pkiDir: string;
  /** Freeze the devices: they move only when `tick()` or a control is called. */
  hold?: boolean;
  /** Values pinned to these, whatever the behaviour says. */
  fixed?: Readonly<Record<string, RegisterValue>>;
  /** How often the devices move on and changes are written (default 100 ms). */
  tickMs?: number;
  now?: () => number;
  /** Receives node-opcua's own diagnostics. */
  log?: Logger;
  /**
   * Namespaces registered before the profile's, which moves its index: a server restarted with
   * another configuration, for tests of a client that must look indexes up again.
   */
  namespacesBefore?: readonly string[];
  /**
   * Also offer signed and encrypted endpoints (Basic256Sha256, Aes128_Sha256_RsaOaep), trusting any
   * client certificate: for tests of a client's security settings. Default: security none only.
   */
  secure?: boolean;
}

/** What clients have asked of the server, to tell subscribing from polling. */
export interface OpcuaSimulatorStats {
  /** Read requests that named at least one of the devices' variables. */
  variableReads: number;
  /** Monitored items created, in all. */
  monitoredItemsCreated: number;
  /** Subscriptions alive now. */
  subscriptions: number;
}

export interface OpcuaSimulator extends DeviceSimulator {
  readonly tcp: undefined;
  readonly rtu: undefined;
  /** e.g. opc.tcp://127.0.0.1:4840 */
  readonly endpointUrl: string;
  /** A unit's object as a device's `node` names it: its browse path below Objects, e.g. `Lifts/Car1`. */
  nodeOf(unit: number): string;
  /**
   * Gives a point's variable a StatusCode by name (`BadSensorFailure`, `UncertainLastUsableValue`)
   * as a controller does when it loses the signal behind it; `Good` restores it.
   */
  setStatus(unit: number, point: string, status: string): void;
  stats(): OpcuaSimulatorStats;
}

/** Where each kind's devices live in the address space, and what one is called. */
const LAYOUT: Partial<Record<OpcuaProfile['kind'], { folder: string; object: string }>> = {
  elevator: { folder: 'Lifts', object: 'Car' },
};

function behaviourOf(profile: OpcuaProfile, unit: number, startMs: number): DeviceBehaviour {
  if (profile.kind === 'elevator') return new ElevatorBehaviour({ ...DEFAULT_ELEVATOR, seed: unit }, startMs);
  throw new RangeError(`the OPC UA simulator has no ${profile.kind} behaviour`);
}

interface SimulatedDevice {
  behaviour: DeviceBehaviour;
  variables: Map<string, { point: OpcuaPoint; variable: UAVariable; raw: string; status: string }>;
  values: Record<string, RegisterValue>;
}

export async function startOpcuaSimulator(options: OpcuaSimulatorOptions): Promise<OpcuaSimulator> {
  const { profile } = options;
  const layout = LAYOUT[profile.kind];
  if (!layout) throw new RangeError(`the OPC UA simulator has no ${profile.kind} behaviour`);
  const points = opcuaPointsOf(profile);
  const unrooted = points.find((point) => point.browsePath === undefined);
  if (unrooted) throw new RangeError(`${profile.id}: ${unrooted.point} has a node_id; the simulator serves browse_path points`);
  const opcua = await loadOpcuaStack(options.log);
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.pkiDir, { recursive: true });
  const server = new opcua.OPCUAServer({
    host,
    port: options.port,
    // The endpoint URL names this host, not the machine's FQDN, which a test's loopback may not resolve.
    ...(host === '0.0.0.0' || host === '::' ? {} : { hostname: host }),
    securityModes: options.secure
      ? [opcua.MessageSecurityMode.None, opcua.MessageSecurityMode.Sign, opcua.MessageSecurityMode.SignAndEncrypt]
      : [opcua.MessageSecurityMode.None],
    securityPolicies: options.secure
      ? [opcua.SecurityPolicy.None, opcua.SecurityPolicy.Basic256Sha256, opcua.SecurityPolicy.Aes128_Sha256_RsaOaep]
      : [opcua.SecurityPolicy.None],
    allowAnonymous: true,
    serverCertificateManager: new opcua.OPCUACertificateManager({ rootFolder: options.pkiDir, automaticallyAcceptUnknownCertificate: true }),
    // Else node-opcua keeps the users' store in the home folder (~/.config/node-opcua-default-nodejs).
    userCertificateManager: new opcua.OPCUACertificateManager({ rootFolder: join(options.pkiDir, 'users'), automaticallyAcceptUnknownCertificate: true }),
    nodeset_filename: [opcua.nodesets.standard],
    buildInfo: { productName: 'Gatehouse OPC UA simulator', manufacturerName: 'Gatehouse', softwareVersion: '0.1.0' },
    serverInfo: { applicationUri: 'urn:gatehouse:opcua-simulator', productUri: 'urn:gatehouse:opcua-simulator' },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  for (const uri of options.namespacesBefore ?? []) addressSpace.registerNamespace(uri);
  const namespace = addressSpace.registerNamespace(profile.namespace);
  const browseName = (name: string, index: number | undefined) => ({ name, namespaceIndex: index ?? namespace.index });
  const folder = namespace.addFolder(addressSpace.rootFolder.objects, { browseName: browseName(layout.folder, undefined), nodeId: `s=${layout.folder}` });

  const startMs = now();
  const devices = new Map<number, SimulatedDevice>();
  for (const unit of options.units) {
    const name = `${layout.object}${unit}`;
    const root = namespace.addObject({ organizedBy: folder, browseName: browseName(name, undefined), nodeId: `s=${name}` });
    // Intermediate objects of multi-step browse paths (`Status/Floor`), made once per unit.
    const parents = new Map<string, UAObject>([['', root]]);
    const device: SimulatedDevice = { behaviour: behaviourOf(profile, unit, startMs), variables: new Map(), values: {} };
    for (const point of points) {
      const path = point.browsePath!;
      let parent = root;
      for (let depth = 0; depth < path.length - 1; depth++) {
        const key = path.slice(0, depth + 1).map((step) => step.name).join('.');
        let next = parents.get(key);
        if (!next) {
          next = namespace.addObject({ componentOf: parent, browseName: browseName(path[depth]!.name, path[depth]!.namespace), nodeId: `s=${name}.${key}` });
          parents.set(key, next);
        }
        parent = next;
      }
      const leaf = path[path.length - 1]!;
      const variable = namespace.addVariable({
        componentOf: parent,
        browseName: browseName(leaf.name, leaf.namespace),
        nodeId: `s=${name}.${path.map((step) => step.name).join('.')}`,
        dataType: point.type,
        accessLevel: 'CurrentRead',
        userAccessLevel: 'CurrentRead',
        minimumSamplingInterval: 50,
      });
      device.variables.set(point.point, { point, variable, raw: '', status: 'Good' });
    }
    devices.set(unit, device);
  }

  const write = (entry: { point: OpcuaPoint; variable: UAVariable; raw: string; status: string }, value: RegisterValue | undefined) => {
    const raw = value === undefined ? undefined : encodeOpcuaValue(entry.point, value);
    const key = `${entry.status}:${JSON.stringify(raw)}`;
    if (key === entry.raw) return;
    entry.raw = key;
    const status = opcua.StatusCodes[entry.status as keyof typeof opcua.StatusCodes] as InstanceType<typeof opcua.StatusCode>;
    entry.variable.setValueFromSource({ dataType: opcua.DataType[entry.point.type], value: raw ?? null }, status, new Date(now()));
  };
  const publish = (device: SimulatedDevice, values: Record<string, RegisterValue>) => {
    device.values = { ...values, ...options.fixed };
    for (const entry of device.variables.values()) write(entry, device.values[entry.point.point]);
  };
  const tick = () => devices.forEach((device) => publish(device, device.behaviour.advance(now())));
  tick();
  const counts = { variableReads: 0, monitoredItemsCreated: 0 };
  // Logged as they come, so that a client that polls shows in the simulator's log.
  server.on('request', (request: unknown) => {
    if (request instanceof opcua.ReadRequest) {
      const variables = request.nodesToRead?.filter((read) => read.nodeId.namespace === namespace.index).length ?? 0;
      if (variables === 0) return;
      counts.variableReads++;
      options.log?.info({ variables }, 'opcua variables read');
    }
    if (request instanceof opcua.CreateMonitoredItemsRequest) {
      const items = request.itemsToCreate?.length ?? 0;
      counts.monitoredItemsCreated += items;
      options.log?.info({ monitored_items: items }, 'opcua monitored items created');
    }
  });
  await server.start();
  const timer = options.hold ? undefined : setInterval(tick, options.tickMs ?? 100);
  const deviceOf = (unit: number) => {
    const device = devices.get(unit);
    if (!device) throw new ControlError(`no unit ${unit} here`);
    return device;
  };

  return {
    tcp: undefined,
    rtu: undefined,
    endpointUrl: server.getEndpointUrl(),
    nodeOf: (unit) => `${layout.folder}/${layout.object}${unit}`,
    values: (unit) => devices.get(unit)?.values,
    behaviour: (unit) => devices.get(unit)?.behaviour,
    control: (unit, action, args = {}) => {
      const device = deviceOf(unit);
      device.behaviour.advance(now());
      device.behaviour.control(action, args);
      publish(device, device.behaviour.advance(now()));
      return device.values;
    },
    setStatus: (unit, point, status) => {
      const entry = deviceOf(unit).variables.get(point);
      if (!entry) throw new ControlError(`unit ${unit} has no point "${point}"`);
      if (!(status in opcua.StatusCodes)) throw new ControlError(`no StatusCode "${status}"`);
      entry.status = status;
      write(entry, deviceOf(unit).values[point]);
    },
    stats: () => ({ ...counts, subscriptions: server.engine.currentSubscriptionCount }),
    tick,
    stop: async () => {
      clearInterval(timer);
      await server.shutdown(0);
    },
  };
}
