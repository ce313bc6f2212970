import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegisterValue } from '@gatehouse/protocols';
import { decodePoint, modbusPointsOf, type ModbusPoint } from '../modbus/points.js';
import type { DeviceProfile } from '../profile/schema.js';
import { BarrierGateBehaviour, DEFAULT_BARRIER_GATE } from './barrier-gate.js';
import { DEFAULT_DOOR_CONTROLLER, DoorControllerBehaviour, EventRing } from './door-controller.js';
import { DEFAULT_ELECTRIC_METER, ElectricMeterBehaviour } from './electric-meter.js';
import { DEFAULT_ELEVATOR, ElevatorBehaviour } from './elevator.js';
import { ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, ModbusException, type SlaveMemory } from './memory.js';
import type { MeterSimulatorOptions } from './meter-simulator.js';
import { ProfileSlave } from './profile-slave.js';
import { startRtuSlave, type RtuSlave } from './rtu-slave.js';
import { startTcpSlave, type TcpSlave } from './tcp-slave.js';
import { ControlError, type ControlArgs } from './timeline.js';
import { DEFAULT_WATER_METER, WaterMeterBehaviour } from './water-meter.js';

/** What every device behaviour does: move on in time, and take run-time controls. */
export interface DeviceBehaviour {
  /** Moves the device on to `nowMs` and returns every catalogue point's value. */
  advance(nowMs: number): Record<string, RegisterValue>;
  /** A run-time control (`trap`, `force`, `leak`…); throws ControlError for one it does not know. */
  control(action: string, args: ControlArgs): Record<string, RegisterValue>;
}

/** Electric meters have no run-time controls. */
class ElectricMeterDevice implements DeviceBehaviour {
  constructor(private readonly meter: ElectricMeterBehaviour) {}
  advance(nowMs: number) {
    return this.meter.advance(nowMs);
  }
  control(action: string): never {
    throw new ControlError(`an electric meter has no control "${action}"`);
  }
}

/**
 * The behaviour of the profile's device kind for one unit, wired to its slave: writes of writable
 * points reach the behaviour, writes of any other mapped point are refused as a device does, and
 * the door controller's events go into its event buffer.
 */
export function behaviourFor(profile: DeviceProfile, unit: number, slave: ProfileSlave, startMs: number): DeviceBehaviour {
  const seed = unit;
  switch (profile.kind) {
    case 'electric_meter':
      return new ElectricMeterDevice(
        new ElectricMeterBehaviour(
          { ...DEFAULT_ELECTRIC_METER, seed, peakPowerKw: 20 + 10 * unit, energyImportKwh: DEFAULT_ELECTRIC_METER.energyImportKwh * unit },
          startMs,
        ),
      );
    case 'water_meter':
      return new WaterMeterBehaviour({ ...DEFAULT_WATER_METER, seed, volumeM3: DEFAULT_WATER_METER.volumeM3 * unit }, startMs);
    case 'elevator':
      return new ElevatorBehaviour({ ...DEFAULT_ELEVATOR, seed }, startMs);
    case 'access_controller': {
      const door = new DoorControllerBehaviour({ ...DEFAULT_DOOR_CONTROLLER, seed }, startMs);
      if (profile.event_buffer) door.attach(new EventRing(profile.event_buffer, profile.defaults.order, slave.memory));
      onPointWrite(slave.memory, profile, 'unlock_s', (seconds) => door.control('unlock', { seconds }));
      return door;
    }
    case 'barrier_gate': {
      const gate = new BarrierGateBehaviour({ ...DEFAULT_BARRIER_GATE, seed }, startMs);
      onPointWrite(slave.memory, profile, 'open_command', (open) => gate.command(Boolean(open)));
      return gate;
    }
    case 'lpr_camera':
      throw new RangeError('an LPR camera pushes plate reads over HTTP: it has no Modbus simulator');
  }
}

/** Calls `handler` with the engineering value a master writes to a writable point. */
function onPointWrite(memory: SlaveMemory, profile: DeviceProfile, name: string, handler: (value: RegisterValue) => void): void {
  const point = modbusPointsOf(profile).find((candidate) => candidate.point === name && candidate.writable);
  if (!point) return;
  memory.onWrite((table, address, values) => {
    if (table !== point.table || address > point.address || address + values.length < point.address + point.count) return;
    const from = point.address - address;
    try {
      handler(decodePoint(point, values.slice(from, from + point.count)));
    } catch (error) {
      if (error instanceof ControlError) throw new ModbusException(ILLEGAL_DATA_VALUE, error.message);
      throw error;
    }
  });
}

/** A device refuses writes to what its map does not make writable (Modbus exception 02). */
function guardReadOnlyPoints(memory: SlaveMemory, points: readonly ModbusPoint[]): void {
  const readOnly = points.filter((point) => !point.writable);
  memory.onWrite((table, address, values) => {
    const last = address + values.length - 1;
    const hit = readOnly.find((point) => point.table === table && point.address <= last && point.address + point.count - 1 >= address);
    if (hit) throw new ModbusException(ILLEGAL_DATA_ADDRESS, `${hit.point} is read-only`);
  });
}

/** As for the meter simulator, with every unit moving as its profile's kind does. */
export interface DeviceSimulatorOptions extends Omit<MeterSimulatorOptions, 'hold' | 'fixed'> {
  /** Freeze the devices: they move only when `tick()` or a control is called. */
  hold?: boolean;
  fixed?: Record<string, RegisterValue>;
}

export interface DeviceSimulator {
  readonly tcp: TcpSlave | undefined;
  readonly rtu: RtuSlave | undefined;
  /** The engineering values a unit holds now. */
  values(unit: number): Record<string, RegisterValue> | undefined;
  /** The unit's behaviour, for tests that look inside (a door's raised events, a gate's counts). */
  behaviour(unit: number): DeviceBehaviour | undefined;
  /** Runs a control on a unit at the current time and returns its values after it. */
  control(unit: number, action: string, args?: ControlArgs): Record<string, RegisterValue>;
  /** Moves every unit to the current time now. */
  tick(): void;
  stop(): Promise<void>;
}

/** Devices of one profile, each moving as its kind does, behind one Modbus endpoint. */
export async function startDeviceSimulator(options: DeviceSimulatorOptions): Promise<DeviceSimulator> {
  const now = options.now ?? Date.now;
  const points = modbusPointsOf(options.profile);
  const devices = new Map(
    options.units.map((unit) => {
      const slave = new ProfileSlave(options.profile);
      guardReadOnlyPoints(slave.memory, points); // first: a refused write must reach no behaviour
      const behaviour = behaviourFor(options.profile, unit, slave, now());
      const device = { slave, behaviour, values: {} as Record<string, RegisterValue> };
      return [unit, device] as const;
    }),
  );
  const publish = (device: { slave: ProfileSlave; values: Record<string, RegisterValue> }, values: Record<string, RegisterValue>) => {
    device.values = { ...values, ...options.fixed };
    device.slave.update(device.values);
  };
  const tick = () => devices.forEach((device) => publish(device, device.behaviour.advance(now())));
  tick();
  const units = new Map([...devices].map(([unit, device]) => [unit, device.slave.memory]));
  const rtu = options.rtu ? await startRtuSlave({ ...options.rtu, units }) : undefined;
  const tcp = rtu ? undefined : await startTcpSlave({ host: options.host, port: options.port, units });
  const timer = options.hold ? undefined : setInterval(tick, options.tickMs);
  return {
    tcp,
    rtu,
    values: (unit) => devices.get(unit)?.values,
    behaviour: (unit) => devices.get(unit)?.behaviour,
    control: (unit, action, args = {}) => {
      const device = devices.get(unit);
      if (!device) throw new ControlError(`no unit ${unit} here`);
      device.behaviour.advance(now());
      device.behaviour.control(action, args);
      publish(device, device.behaviour.advance(now()));
      return device.values;
    },
    tick,
    stop: async () => {
      clearInterval(timer);
      await Promise.all([tcp?.close(), rtu?.close()]);
    },
  };
}

export interface ControlServer {
  address(): AddressInfo;
  close(): Promise<void>;
}

/**
 * A small HTTP endpoint to drive a running simulator from a test or a shell:
 *   GET  /units/{unit}            → 200 the unit's values
 *   POST /units/{unit}/{action}   → 200 the values after the control; body: JSON arguments
 * A bad unit, action or argument answers 404 or 400 with `{ error }`.
 */
export async function startControlServer(simulator: DeviceSimulator, host: string, port: number): Promise<ControlServer> {
  const server = createServer((request, response) => {
    handle(simulator, request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    address: () => server.address() as AddressInfo,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function handle(simulator: DeviceSimulator, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const answer = (status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  const match = /^\/units\/(\d+)(?:\/([a-z-]+))?$/.exec(request.url ?? '');
  const unit = Number(match?.[1]);
  if (!match || !simulator.values(unit)) return answer(404, { error: `no such unit or path: ${request.url ?? ''}` });
  if (request.method === 'GET' && !match[2]) return answer(200, simulator.values(unit));
  if (request.method !== 'POST' || !match[2]) return answer(405, { error: 'GET /units/{unit} or POST /units/{unit}/{action}' });
  let args: ControlArgs = {};
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8').trim();
    args = text ? (JSON.parse(text) as ControlArgs) : {};
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new ControlError('the body must be a JSON object');
    return answer(200, simulator.control(unit, match[2], args));
  } catch (error) {
    if (error instanceof ControlError || error instanceof SyntaxError) return answer(400, { error: error.message });
    throw error;
  }
}
