/**
 * The meters of the modbus-bus benchmark: three register maps laid out the way common three-phase
 * sub-meters lay theirs out, 40 points each, and 32 meters using them on one line.
 *
 * A map is a list of blocks: runs of points with reserved registers between some of them, as the
 * vendors' tables have. A simulated meter implements each block whole (a reserved register inside
 * a block reads as 0, as on most meters) and nothing between blocks (a read there is refused with
 * "illegal data address"). Gaps inside a block are chosen on both sides of the break-even of a
 * 9600-baud line (about 12 registers: below it merging across the gap pays, above it a new
 * request does), and register limits per request that force a choice of where to split.
 *
 * Why profiles that the catalogue would refuse: a profile's points must be catalogue points of its
 * device kind, and `electric_meter` has 12, so no 40-point meter profile passes `DeviceProfile`.
 * The agent's scheduler (`BusPoller`) takes a `DeviceProfile` value and plans, reads and decodes
 * whatever points it holds; the catalogue is checked only where a profile file is loaded. So the
 * benchmark builds the profile values itself, with the catalogue's names where the catalogue has
 * the quantity and vendor names for the rest (THD, per-phase powers, demand, status words), checks
 * that the catalogue is the only thing `DeviceProfile` objects to (`catalogueOnlyIssues`), and
 * polls them with the real `BusPoller`. The report of the benchmark proposes the schema change
 * that would let such points be declared in a profile file.
 */
import { performance } from 'node:perf_hooks';
import type { ByteOrder, RegisterValue } from '@gatehouse/protocols';
import {
  DeviceProfile,
  decodePoint,
  encodePoint,
  ModbusPointMapping,
  modbusPointsOf,
  SlaveMemory,
  type ModbusPoint,
  type ModbusTable,
} from '@gatehouse/devices';

type MapType = 'float32' | 'uint32' | 'int32' | 'uint16' | 'int16';
type MapEntry = { point: string; type: MapType; scale: number } | { reserved: number };

interface MapBlock {
  table: 'holding' | 'input';
  start: number;
  entries: MapEntry[];
}

export interface MeterModel {
  id: string;
  vendor: string;
  model: string;
  description: string;
  order: ByteOrder;
  /** Registers one read may ask for: the meter's own limit, often below the protocol's 125. */
  maxRegisters: number;
  blocks: MapBlock[];
}

const PHASES = ['l1', 'l2', 'l3'] as const;
const LINES = ['l12', 'l23', 'l31'] as const;

function points(type: MapType, scale: number, names: readonly string[]): MapEntry[] {
  return names.map((point) => ({ point, type, scale }));
}
const perPhase = (prefix: string, unit: string, legs: readonly string[] = PHASES) =>
  legs.map((leg) => (unit ? `${prefix}_${leg}_${unit}` : `${prefix}_${leg}`));
const reserved = (registers: number): MapEntry => ({ reserved: registers });

/** Floats everywhere, in input registers, high word first: the map of many DIN-rail meters. */
const FLOAT_METER: MeterModel = {
  id: 'bench-float-meter',
  vendor: 'Bench',
  model: 'F-630',
  description: 'three-phase meter, IEEE-754 floats in input registers',
  order: 'ABCD',
  maxRegisters: 64,
  blocks: [
    {
      table: 'input',
      start: 0x0000,
      entries: [
        ...points('float32', 1, [
          ...perPhase('voltage', 'v'),
          ...perPhase('current', 'a'),
          ...perPhase('active_power', 'kw'),
          ...perPhase('apparent_power', 'kva'),
          ...perPhase('reactive_power', 'kvar'),
          ...perPhase('power_factor', ''),
        ]),
        reserved(6),
        ...points('float32', 1, perPhase('phase_angle', 'deg')),
        reserved(4),
        ...points('float32', 1, ['active_power_kw']),
        reserved(2),
        ...points('float32', 1, ['apparent_power_kva']),
        reserved(2),
        ...points('float32', 1, ['reactive_power_kvar', 'power_factor']),
        reserved(6),
        ...points('float32', 1, [
          'frequency_hz',
          'energy_import_kwh',
          'energy_export_kwh',
          'reactive_energy_import_kvarh',
          'reactive_energy_export_kvarh',
        ]),
      ],
    },
    {
      table: 'input',
      start: 0x00c8,
      entries: [
        ...points('float32', 1, perPhase('voltage', 'v', LINES)),
        reserved(18),
        ...points('float32', 1, ['current_n_a']),
        reserved(8),
        ...points('float32', 1, [...perPhase('thd_voltage', 'pct'), ...perPhase('thd_current', 'pct')]),
      ],
    },
  ],
};

/** Scaled 16-bit integers and 32-bit counters in holding registers, at most 40 per read. */
const SCALED_METER: MeterModel = {
  id: 'bench-scaled-meter',
  vendor: 'Bench',
  model: 'S-200',
  description: 'three-phase meter, scaled integers in holding registers, 40 registers per read',
  order: 'ABCD',
  maxRegisters: 40,
  blocks: [
    {
      table: 'holding',
      start: 0x0100,
      entries: [
        ...points('uint16', 0.1, [...perPhase('voltage', 'v'), ...perPhase('voltage', 'v', LINES)]),
        ...points('uint16', 0.001, [...perPhase('current', 'a'), 'current_n_a']),
        reserved(2),
        ...points('int16', 0.01, [...perPhase('active_power', 'kw'), 'active_power_kw']),
        ...points('int16', 0.01, [...perPhase('reactive_power', 'kvar'), 'reactive_power_kvar']),
        ...points('uint16', 0.01, [...perPhase('apparent_power', 'kva'), 'apparent_power_kva']),
        ...points('int16', 0.001, [...perPhase('power_factor', ''), 'power_factor']),
        reserved(4),
        ...points('uint16', 0.01, ['frequency_hz']),
      ],
    },
    {
      table: 'holding',
      start: 0x0200,
      entries: [
        ...points('uint32', 0.01, ['energy_import_kwh', 'energy_export_kwh', 'reactive_energy_import_kvarh', 'reactive_energy_export_kvarh']),
        reserved(10),
        ...points('uint32', 0.01, perPhase('energy_import', 'kwh')),
      ],
    },
    {
      table: 'holding',
      start: 0x0300,
      entries: [
        ...points('int16', 0.01, ['demand_active_power_kw']),
        ...points('uint16', 0.01, ['max_demand_active_power_kw']),
        reserved(3),
        ...points('uint16', 0.001, perPhase('demand_current', 'a')),
        ...points('uint32', 1, ['running_hours_h']),
      ],
    },
  ],
};

/** Floats with the low word first at 0x2000 and 0x4000, status and THD in input registers. */
const MIXED_METER: MeterModel = {
  id: 'bench-mixed-meter',
  vendor: 'Bench',
  model: 'M-666',
  description: 'three-phase meter, CDAB floats in holding registers, status in input registers',
  order: 'CDAB',
  maxRegisters: 125,
  blocks: [
    {
      table: 'holding',
      start: 0x2000,
      entries: [
        ...points('float32', 1, [
          ...perPhase('voltage', 'v', LINES),
          ...perPhase('voltage', 'v'),
          ...perPhase('current', 'a'),
          'active_power_kw',
          ...perPhase('active_power', 'kw'),
          'reactive_power_kvar',
          ...perPhase('reactive_power', 'kvar'),
        ]),
        reserved(8),
        ...points('float32', 1, ['power_factor', ...perPhase('power_factor', '')]),
        reserved(18),
        ...points('float32', 1, ['frequency_hz']),
      ],
    },
    {
      table: 'holding',
      start: 0x4000,
      entries: [
        ...points('float32', 1, ['energy_import_kwh']),
        reserved(8),
        ...points('float32', 1, ['energy_export_kwh']),
        reserved(8),
        ...points('float32', 1, ['reactive_energy_import_kvarh']),
        reserved(8),
        ...points('float32', 1, ['reactive_energy_export_kvarh']),
      ],
    },
    {
      table: 'input',
      start: 0x0000,
      entries: [
        ...points('uint16', 1, ['status_word', 'alarm_word', 'relay_state', 'tariff', 'ct_ratio', 'pt_ratio']),
        reserved(14),
        ...points('int16', 0.1, [...perPhase('thd_voltage', 'pct'), ...perPhase('thd_current', 'pct'), 'temperature_c', 'supply_voltage_v']),
      ],
    },
  ],
};

export const METER_MODELS: readonly MeterModel[] = [FLOAT_METER, SCALED_METER, MIXED_METER];

const WIDTH: Record<MapType, number> = { float32: 2, uint32: 2, int32: 2, uint16: 1, int16: 1 };

interface PlacedBlock {
  table: ModbusTable;
  first: number;
  last: number;
}

function layOut(model: MeterModel): { profile: DeviceProfile; blocks: PlacedBlock[] } {
  const mappings: DeviceProfile['points'] = [];
  const blocks: PlacedBlock[] = [];
  for (const block of model.blocks) {
    let address = block.start;
    for (const entry of block.entries) {
      if ('reserved' in entry) {
        address += entry.reserved;
        continue;
      }
      mappings.push(ModbusPointMapping.parse({ point: entry.point, table: block.table, address, type: entry.type, scale: entry.scale }));
      address += WIDTH[entry.type];
    }
    blocks.push({ table: block.table, first: block.start, last: address - 1 });
  }
  // What DeviceProfile makes of the model with one catalogue point, then the map's points in its place.
  const base = DeviceProfile.parse({
    id: model.id,
    kind: 'electric_meter',
    vendor: model.vendor,
    model: model.model,
    description: model.description,
    protocol: 'modbus',
    defaults: { table: 'holding', order: model.order },
    limits: { max_registers_per_request: model.maxRegisters },
    points: [{ point: 'voltage_l1_v', address: 0 }],
  });
  return { profile: { ...base, points: mappings }, blocks };
}

/**
 * What `DeviceProfile` says about a generated profile, less its complaints about points the
 * catalogue lacks: anything left is a real fault in the generated map.
 */
export function catalogueOnlyIssues(profile: DeviceProfile): { nonCatalogue: number; otherIssues: string[] } {
  const result = DeviceProfile.safeParse(profile);
  if (result.success) return { nonCatalogue: 0, otherIssues: [] };
  const isCatalogue = (message: string) => / has no point "/.test(message);
  return {
    nonCatalogue: result.error.issues.filter((issue) => isCatalogue(issue.message)).length,
    otherIssues: result.error.issues.filter((issue) => !isCatalogue(issue.message)).map((issue) => `${issue.path.join('.')}: ${issue.message}`),
  };
}

export interface RequestRecord {
  /** performance.now() when the slave had the whole request frame. */
  at: number;
  unit: number;
  table: ModbusTable;
  address: number;
  count: number;
}

/** A meter's memory that notes every read the slave executes for it: the benchmark's clock. */
class LoggedMemory extends SlaveMemory {
  constructor(
    private readonly unit: number,
    private readonly log: RequestRecord[],
  ) {
    super();
  }

  override read(table: ModbusTable, address: number, count: number): number[] {
    this.log.push({ at: performance.now(), unit: this.unit, table, address, count });
    return super.read(table, address, count);
  }
}

export interface BenchMeter {
  unit: number;
  id: string;
  model: MeterModel;
  profile: DeviceProfile;
  points: ModbusPoint[];
  blocks: readonly PlacedBlock[];
  /** What the agent must read for each point: the decoded value of the words the meter holds. */
  expected: ReadonlyMap<string, RegisterValue>;
  /** The raw words of each point, written into every simulator built for this meter. */
  words: ReadonlyMap<string, number[]>;
}

/** A value for each point that differs between meters and points and survives its encoding. */
function sampleValue(point: ModbusPoint, unit: number, index: number): number {
  const step = (unit * 37 + index * 11) % 2000;
  if (point.layout.type === 'float32') return 100 + step / 4; // quarters are exact in float32
  const raw = point.layout.type === 'int16' || point.layout.type === 'int32' ? step - 1000 : step + 1;
  return raw * point.scale;
}

/** Meters 1..count, taking the models in turn, each with its own values. */
export function buildMeters(count: number): BenchMeter[] {
  const laidOut = METER_MODELS.map((model) => ({ model, ...layOut(model) }));
  return Array.from({ length: count }, (_, i) => {
    const unit = i + 1;
    const { model, profile, blocks } = laidOut[i % laidOut.length]!;
    const points = modbusPointsOf(profile);
    const words = new Map<string, number[]>();
    const expected = new Map<string, RegisterValue>();
    points.forEach((point, index) => {
      const raw = encodePoint(point, sampleValue(point, unit, index));
      words.set(point.point, raw);
      expected.set(point.point, decodePoint(point, raw));
    });
    return { unit, id: `meter-${String(unit).padStart(2, '0')}`, model, profile, points, blocks, expected, words };
  });
}

/** A fresh memory for each meter, as a simulator on a new line needs, all logging into `log`. */
export function meterMemories(meters: readonly BenchMeter[], log: RequestRecord[]): Map<number, SlaveMemory> {
  return new Map(
    meters.map((meter) => {
      const memory = new LoggedMemory(meter.unit, log);
      for (const block of meter.blocks) memory.implement(block.table, block.first, block.last);
      for (const point of meter.points) memory.setMany(point.table, point.address, meter.words.get(point.point)!);
      return [meter.unit, memory];
    }),
  );
}
