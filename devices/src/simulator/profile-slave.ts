import type { RegisterValue } from '@gatehouse/protocols';
import { encodePoint, modbusPointsOf, type ModbusPoint } from '../modbus/points.js';
import { isBitTable, type DeviceProfile, type ModbusTable } from '../profile/schema.js';
import { SlaveMemory } from './memory.js';

/** Mapped addresses closer than this form one implemented block, as register maps are laid out. */
const BLOCK_GAP = 16;

/** A slave whose registers hold a profile's points, encoded exactly as the profile reads them. */
export class ProfileSlave {
  readonly memory = new SlaveMemory();
  private readonly points: Map<string, ModbusPoint>;

  constructor(readonly profile: DeviceProfile) {
    const points = modbusPointsOf(profile);
    this.points = new Map(points.map((point) => [point.point, point]));
    implementBlocks(this.memory, points);
  }

  /** Writes engineering values (in catalogue units) into the registers of their points. */
  update(values: Readonly<Record<string, RegisterValue>>): void {
    for (const [name, value] of Object.entries(values)) {
      const point = this.points.get(name);
      if (!point) continue;
      const words = encodePoint(point, value);
      if (point.layout.type === 'bool' && !isBitTable(point.table)) {
        // Several flags share a status register: change this point's bit, keep the others.
        const mask = 1 << (point.layout.bit ?? 0);
        const [current = 0] = this.memory.read(point.table, point.address, 1);
        words[0] = (current & ~mask) | (words[0]! & mask);
      }
      this.memory.setMany(point.table, point.address, words);
    }
  }
}

function implementBlocks(memory: SlaveMemory, points: readonly ModbusPoint[]): void {
  const byTable = new Map<ModbusTable, ModbusPoint[]>();
  for (const point of points) byTable.set(point.table, [...(byTable.get(point.table) ?? []), point]);
  for (const [table, list] of byTable) {
    list.sort((a, b) => a.address - b.address);
    let first = list[0]!.address;
    let last = first + list[0]!.count - 1;
    for (const point of list.slice(1)) {
      if (point.address - last > BLOCK_GAP) {
        memory.implement(table, first, last);
        first = point.address;
      }
      last = Math.max(last, point.address + point.count - 1);
    }
    memory.implement(table, first, last);
  }
}
