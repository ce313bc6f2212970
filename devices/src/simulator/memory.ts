import type { ModbusTable } from '../profile/schema.js';

/** A Modbus exception a slave answers with (Modbus application protocol V1.1b3 §7). */
export class ModbusException extends Error {
  override name = 'ModbusException';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const ILLEGAL_FUNCTION = 0x01;
export const ILLEGAL_DATA_ADDRESS = 0x02;
export const ILLEGAL_DATA_VALUE = 0x03;
export const GATEWAY_TARGET_FAILED = 0x0b;

export type WriteListener = (table: ModbusTable, address: number, values: readonly number[]) => void;

/**
 * The data model of one simulated slave: four tables, each readable over the address ranges the
 * device implements. Reads outside them get "illegal data address", as from a real meter.
 */
export class SlaveMemory {
  private readonly words = new Map<ModbusTable, Map<number, number>>();
  private readonly ranges = new Map<ModbusTable, Array<[number, number]>>();

  /** Declares [first, last] of a table as implemented; unset addresses inside read as 0. */
  implement(table: ModbusTable, first: number, last: number): void {
    const list = this.ranges.get(table) ?? [];
    list.push([first, last]);
    this.ranges.set(table, list);
  }

  set(table: ModbusTable, address: number, value: number): void {
    let map = this.words.get(table);
    if (!map) this.words.set(table, (map = new Map<number, number>()));
    map.set(address, value & 0xffff);
  }

  setMany(table: ModbusTable, address: number, values: readonly number[]): void {
    values.forEach((value, i) => this.set(table, address + i, value));
  }

  read(table: ModbusTable, address: number, count: number): number[] {
    this.assertImplemented(table, address, count);
    const map = this.words.get(table);
    return Array.from({ length: count }, (_, i) => map?.get(address + i) ?? 0);
  }

  /** A write from a master; only implemented addresses accept it. */
  write(table: ModbusTable, address: number, values: readonly number[]): void {
    this.assertImplemented(table, address, values.length);
    for (const listener of this.writeListeners) listener(table, address, values);
    this.setMany(table, address, values);
  }

  private readonly writeListeners: WriteListener[] = [];

  /**
   * Calls `listener` on every master write to implemented addresses, before the values are
   * stored: a device model reacts to commands this way, and refuses a write (a read-only
   * register, a value out of range) by throwing a ModbusException, which stores nothing.
   */
  onWrite(listener: WriteListener): void {
    this.writeListeners.push(listener);
  }

  private assertImplemented(table: ModbusTable, address: number, count: number): void {
    const last = address + count - 1;
    const ranges = this.ranges.get(table) ?? [];
    for (let a = address; a <= last; a++) {
      if (!ranges.some(([first, end]) => a >= first && a <= end)) {
        throw new ModbusException(ILLEGAL_DATA_ADDRESS, `${table} ${a} is not implemented`);
      }
    }
  }
}
