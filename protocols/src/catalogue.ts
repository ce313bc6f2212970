/**
 * The point catalogue: every point a device of a kind may report, with its one unit. Profiles map
 * vendor registers onto these names, so that dashboards and billing never read a register map.
 */
export type PointValueType = 'number' | 'boolean' | 'string';

export interface PointDefinition {
  readonly type: PointValueType;
  /** The unit every reading of this point is in; '' for dimensionless points. */
  readonly unit: string;
  readonly description: string;
  /** A cumulative register that only rises in service (billing reads its differences). */
  readonly counter?: boolean;
}

const number = (unit: string, description: string, counter = false): PointDefinition =>
  counter ? { type: 'number', unit, description, counter } : { type: 'number', unit, description };
const flag = (description: string): PointDefinition => ({ type: 'boolean', unit: '', description });
const text = (description: string): PointDefinition => ({ type: 'string', unit: '', description });

export const POINT_CATALOGUE = {
  electric_meter: {
    energy_import_kwh: number('kWh', 'active energy imported, total', true),
    energy_export_kwh: number('kWh', 'active energy exported, total', true),
    active_power_kw: number('kW', 'active power, total of all phases'),
    reactive_power_kvar: number('kvar', 'reactive power, total of all phases'),
    power_factor: number('', 'power factor, total'),
    voltage_l1_v: number('V', 'phase 1 to neutral voltage'),
    voltage_l2_v: number('V', 'phase 2 to neutral voltage'),
    voltage_l3_v: number('V', 'phase 3 to neutral voltage'),
    current_l1_a: number('A', 'phase 1 current'),
    current_l2_a: number('A', 'phase 2 current'),
    current_l3_a: number('A', 'phase 3 current'),
    frequency_hz: number('Hz', 'line frequency'),
  },
  water_meter: {
    volume_m3: number('m³', 'volume, total', true),
    flow_m3h: number('m³/h', 'flow rate'),
    leak: flag('leak detected'),
    tamper: flag('tamper detected'),
  },
  elevator: {
    floor: number('', 'current floor'),
    direction: text('up, down or stopped'),
    moving: flag('car is moving'),
    door_open: flag('car door is open'),
    in_service: flag('in normal passenger service'),
    fault_code: number('', 'controller fault code; 0 when healthy'),
    passenger_trapped: flag('a passenger is trapped in the car'),
  },
  access_controller: {
    door_open: flag('door contact reports open'),
    door_locked: flag('lock is engaged'),
    // Added with the Modbus door controller: a command point (profile marks it writable) and the
    // loss counter of the controller's event buffer, so that a gap in access events is visible.
    unlock_s: number('s', 'command: write N to release the lock for N seconds; reads back the seconds left'),
    events_lost: number('', 'events the controller overwrote before the gateway took them, total', true),
  },
  lpr_camera: {
    online: flag('camera answers its health check'),
  },
  barrier_gate: {
    barrier_open: flag('barrier arm is up'),
    vehicle_present: flag('loop detector sees a vehicle'),
    fault_code: number('', 'gate controller fault code; 0 when healthy'),
    // Added with the Modbus barrier gate: the command point an "open barrier" command writes.
    open_command: flag('command: write true to raise the arm; the controller clears it once it acts'),
  },
} as const satisfies Record<string, Record<string, PointDefinition>>;

export type DeviceKind = keyof typeof POINT_CATALOGUE;
export const DEVICE_KINDS = Object.keys(POINT_CATALOGUE) as DeviceKind[];
export type PointName<K extends DeviceKind> = keyof (typeof POINT_CATALOGUE)[K] & string;

export function isDeviceKind(kind: string): kind is DeviceKind {
  return Object.hasOwn(POINT_CATALOGUE, kind);
}

/** The catalogue entry of a point of a kind, or undefined when the kind has no such point. */
export function pointDefinition(kind: DeviceKind, point: string): PointDefinition | undefined {
  const points: Record<string, PointDefinition> = POINT_CATALOGUE[kind];
  return Object.hasOwn(points, point) ? points[point] : undefined;
}

export const EVENT_TYPES = [
  'access.granted',
  'access.denied',
  'door.forced',
  'door.held_open',
  'plate.read',
  'elevator.fault',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
