import { createRequire } from 'node:module';
import type { ModbusRTU as ModbusRTUClass } from 'modbus-serial/ModbusRTU.js';
import { exceptionName } from './exceptions.js';
import type { ModbusTable } from './plan.js';

// modbus-serial is CommonJS whose module.exports is the client class; its typings call that class
// the default export, which an ES module import does not see, so the class is loaded by require.
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUClass;

/** Why a transaction failed; a value the poller records, never an exception thrown at it. */
export interface ModbusFailure {
  kind: 'timeout' | 'exception' | 'connection';
  message: string;
  /** The exception code, when the device answered with one. */
  exception?: number;
}

export type ModbusReadResult = { ok: true; values: number[] | boolean[] } | { ok: false; failure: ModbusFailure };

export interface ModbusTcpEndpoint {
  host: string;
  port: number;
  /** How long to wait for an answer before the transaction counts as timed out. */
  timeoutMs: number;
}

function failureOf(error: unknown): ModbusFailure {
  const err = error as { modbusCode?: number; errno?: string; message?: string };
  if (typeof err.modbusCode === 'number') {
    return { kind: 'exception', exception: err.modbusCode, message: exceptionName(err.modbusCode) };
  }
  if (err.errno === 'ETIMEDOUT') return { kind: 'timeout', message: 'no answer before the timeout' };
  return { kind: 'connection', message: err.message ?? String(error) };
}

/**
 * A Modbus TCP connection to one endpoint (a device, or a gateway with unit ids behind it). One
 * transaction at a time; the connection is opened on first use and again after it drops.
 */
export class ModbusTcpClient {
  private readonly client = new ModbusRTU();
  private connecting: Promise<void> | undefined;

  constructor(private readonly endpoint: ModbusTcpEndpoint) {
    this.client.setTimeout(endpoint.timeoutMs);
  }

  private async ensureOpen(): Promise<void> {
    if (this.client.isOpen) return;
    this.connecting ??= this.client
      .connectTCP(this.endpoint.host, { port: this.endpoint.port, timeout: this.endpoint.timeoutMs })
      .finally(() => {
        this.connecting = undefined;
      });
    await this.connecting;
  }

  async read(unit: number, table: ModbusTable, address: number, count: number): Promise<ModbusReadResult> {
    try {
      await this.ensureOpen();
      this.client.setID(unit);
      const answer = await this.readTable(table, address, count);
      return { ok: true, values: answer.slice(0, count) };
    } catch (error) {
      return { ok: false, failure: failureOf(error) };
    }
  }

  private async readTable(table: ModbusTable, address: number, count: number): Promise<number[] | boolean[]> {
    switch (table) {
      case 'holding':
        return (await this.client.readHoldingRegisters(address, count)).data;
      case 'input':
        return (await this.client.readInputRegisters(address, count)).data;
      case 'coil':
        return (await this.client.readCoils(address, count)).data;
      case 'discrete':
        return (await this.client.readDiscreteInputs(address, count)).data;
    }
  }

  close(): Promise<void> {
    if (!this.client.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.client.close(() => resolve()));
  }
}
