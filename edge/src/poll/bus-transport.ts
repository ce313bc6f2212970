import type { ModbusTransport, SerialLine } from '@gatehouse/protocols';
import type { BusConfig } from '../config/schema.js';

/** The serial line whose timing governs a bus: its own, or the device server's serial side. */
export function serialLineOf(bus: BusConfig): SerialLine | undefined {
  if (bus.transport === 'tcp' || bus.transport === 'opcua') return undefined;
  return { baud: bus.baud, parity: bus.parity, dataBits: bus.data_bits, stopBits: bus.stop_bits };
}

export function transportOf(bus: BusConfig): ModbusTransport {
  switch (bus.transport) {
    case 'tcp':
      return { kind: 'tcp', host: bus.host, port: bus.port };
    case 'rtu-over-tcp':
      return { kind: 'rtu-over-tcp', host: bus.host, port: bus.port };
    case 'rtu':
      return { kind: 'rtu', path: bus.path, line: serialLineOf(bus)! };
    case 'dlt645':
      throw new Error(`bus "${bus.id}" carries DL/T 645, not Modbus: the DL/T 645 poller serves it`);
    case 'opcua':
      throw new Error(`bus "${bus.id}" is an OPC UA server, not Modbus: the OPC UA client serves it`);
  }
}

/** Transactions a bus may have in flight: a serial line carries one at a time. */
export function connectionsOf(bus: BusConfig): number {
  return bus.transport === 'tcp' ? bus.max_concurrent : 1;
}
