import type { RegisterValue } from '@gatehouse/protocols';
import type { DeviceProfile } from '../profile/schema.js';
import { DEFAULT_ELECTRIC_METER, ElectricMeterBehaviour } from './electric-meter.js';
import { ProfileSlave } from './profile-slave.js';
import { startRtuSlave, type RtuSlave, type RtuSlaveOptions } from './rtu-slave.js';
import { startTcpSlave, type TcpSlave } from './tcp-slave.js';

export interface MeterSimulatorOptions {
  profile: DeviceProfile;
  host: string;
  port: number;
  /** Unit ids answered on this endpoint, one simulated meter each. */
  units: number[];
  /** Freeze every value at its start (tests that compare exact values use it). */
  hold: boolean;
  /** Values pinned to these, whatever the behaviour says. */
  fixed: Record<string, RegisterValue>;
  tickMs: number;
  now?: () => number;
  /** Serve the meters as Modbus RTU (on a serial line, or RTU over TCP) instead of Modbus TCP. */
  rtu?: Omit<RtuSlaveOptions, 'units'>;
}

export interface MeterSimulator {
  /** The Modbus TCP endpoint; undefined when the meters are served over RTU. */
  readonly tcp: TcpSlave | undefined;
  /** The Modbus RTU endpoint, when `rtu` was given. */
  readonly rtu: RtuSlave | undefined;
  /** The engineering values each unit holds now. */
  values(unit: number): Record<string, RegisterValue> | undefined;
  stop(): Promise<void>;
}

/** Electric meters of one profile behind one Modbus TCP endpoint, moving like real meters. */
export async function startMeterSimulator(options: MeterSimulatorOptions): Promise<MeterSimulator> {
  const now = options.now ?? Date.now;
  const meters = options.units.map((unit) => {
    const behaviour = new ElectricMeterBehaviour(
      {
        ...DEFAULT_ELECTRIC_METER,
        seed: unit,
        peakPowerKw: 20 + 10 * unit,
        energyImportKwh: DEFAULT_ELECTRIC_METER.energyImportKwh * unit,
      },
      now(),
    );
    const slave = new ProfileSlave(options.profile);
    let values: Record<string, RegisterValue> = { ...behaviour.values(), ...options.fixed };
    slave.update(values);
    const tick = () => {
      values = { ...behaviour.advance(now()), ...options.fixed };
      slave.update(values);
    };
    return { unit, slave, tick, values: () => values };
  });
  const units = new Map(meters.map((meter) => [meter.unit, meter.slave.memory]));
  const rtu = options.rtu ? await startRtuSlave({ ...options.rtu, units }) : undefined;
  const tcp = rtu ? undefined : await startTcpSlave({ host: options.host, port: options.port, units });
  const timer = options.hold ? undefined : setInterval(() => meters.forEach((meter) => meter.tick()), options.tickMs);
  return {
    tcp,
    rtu,
    values: (unit) => meters.find((meter) => meter.unit === unit)?.values(),
    stop: async () => {
      clearInterval(timer);
      await Promise.all([tcp?.close(), rtu?.close()]);
    },
  };
}
