import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModbusRTU as ModbusRTUClass } from 'modbus-serial/ModbusRTU.js';
import { exceptionName } from './exceptions.js';
import type { ModbusTable } from './plan.js';
import type { SerialLine } from './wire-time.js';

// modbus-serial is CommonJS whose module.exports is the client class; its typings call that class
// the default export, which an ES module import does not see, so the class is loaded by require.
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUClass;

/** How a gateway reaches a bus: Modbus TCP, RTU on a serial port, or RTU frames over TCP. */
export type ModbusTransport =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; line: SerialLine }
  /** RS-485-to-Ethernet device servers: RTU frames, CRC included, carried over a TCP socket. */
  | { kind: 'rtu-over-tcp'; host: string; port: number };

export type ModbusFailureKind = 'timeout' | 'exception' | 'crc' | 'frame' | 'connection';

/** Why a transaction failed; a value the poller records, never an exception thrown at it. */
export interface ModbusFailure {
  kind: ModbusFailureKind;
  message: string;
  /** The exception code, when the device answered with one. */
  exception?: number;
}

export type ModbusResult<T> = { ok: true; value: T } | { ok: false; failure: ModbusFailure };

/** The write functions: FC 5 (one coil), 6 (one register), 15 (coils), 16 (registers). */
export type ModbusWrite =
  | { fc: 5; address: number; value: boolean }
  | { fc: 6; address: number; value: number }
  | { fc: 15; address: number; values: boolean[] }
  | { fc: 16; address: number; values: number[] };

export interface ModbusClientOptions {
  transport: ModbusTransport;
  /** How long to wait for an answer before the transaction counts as timed out. */
  timeoutMs: number;
  /** Retries of a transaction answered "server device busy" or "acknowledge". */
  busyRetries?: number;
  /** The pause before such a retry: the device asked for time. */
  busyPauseMs?: number;
}

const SERVER_BUSY = 0x06;
const ACKNOWLEDGE = 0x05;

function failureOf(error: unknown): ModbusFailure {
  const err = error as { modbusCode?: number; errno?: string; message?: string };
  if (typeof err.modbusCode === 'number') {
    return { kind: 'exception', exception: err.modbusCode, message: exceptionName(err.modbusCode) };
  }
  if (err.errno === 'ETIMEDOUT') return { kind: 'timeout', message: 'no answer before the timeout' };
  const message = err.message ?? String(error);
  if (message.startsWith('CRC error')) return { kind: 'crc', message: 'answer failed its CRC check' };
  if (/^(Data length error|Unexpected data error)/.test(message)) return { kind: 'frame', message };
  return { kind: 'connection', message };
}

function isBusy(failure: ModbusFailure): boolean {
  return failure.kind === 'exception' && (failure.exception === SERVER_BUSY || failure.exception === ACKNOWLEDGE);
}

/**
 * One Modbus master connection (a serial port, or a TCP connection to a device or a gateway).
 * It runs one transaction at a time: callers serialise, as a bus does. The connection is opened
 * on first use and again after it drops.
 */
export class ModbusClient {
  private readonly client = new ModbusRTU();
  private connecting: Promise<void> | undefined;

  constructor(private readonly options: ModbusClientOptions) {
    this.client.setTimeout(options.timeoutMs);
  }

  private open(): Promise<void> {
    const { transport, timeoutMs } = this.options;
    switch (transport.kind) {
      case 'tcp':
        return this.client.connectTCP(transport.host, { port: transport.port, timeout: timeoutMs });
      // modbus-serial calls raw RTU over a TCP socket "telnet"; its "TcpRTUBuffered" port expects
      // MBAP framing and so does not speak to RS-485 device servers.
      case 'rtu-over-tcp':
        return this.client.connectTelnet(transport.host, { port: transport.port, timeout: timeoutMs });
      case 'rtu':
        return this.client.connectRTUBuffered(transport.path, {
          baudRate: transport.line.baud,
          dataBits: transport.line.dataBits,
          stopBits: transport.line.stopBits,
          parity: transport.line.parity,
        });
    }
  }

  private async ensureOpen(): Promise<void> {
    if (this.client.isOpen) return;
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  private async transact<T>(unit: number, operation: () => Promise<T>): Promise<ModbusResult<T>> {
    const retries = this.options.busyRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.ensureOpen();
        this.client.setID(unit);
        return { ok: true, value: await operation() };
      } catch (error) {
        const failure = failureOf(error);
        if (!isBusy(failure) || attempt >= retries) return { ok: false, failure };
        await sleep(this.options.busyPauseMs ?? 100);
      }
    }
  }

  /** Reads `count` registers (FC 3, 4) or bits (FC 1, 2) of a table. */
  read(unit: number, table: ModbusTable, address: number, count: number): Promise<ModbusResult<number[] | boolean[]>> {
    return this.transact(unit, async () => {
      switch (table) {
        case 'holding':
          return (await this.client.readHoldingRegisters(address, count)).data;
        case 'input':
          return (await this.client.readInputRegisters(address, count)).data;
        // Bit reads come back padded to whole bytes.
        case 'coil':
          return (await this.client.readCoils(address, count)).data.slice(0, count);
        case 'discrete':
          return (await this.client.readDiscreteInputs(address, count)).data.slice(0, count);
      }
    });
  }

  write(unit: number, write: ModbusWrite): Promise<ModbusResult<void>> {
    return this.transact(unit, async () => {
      switch (write.fc) {
        case 5:
          await this.client.writeCoil(write.address, write.value);
          return;
        case 6:
          await this.client.writeRegister(write.address, write.value);
          return;
        case 15:
          await this.client.writeCoils(write.address, write.values);
          return;
        case 16:
          await this.client.writeRegisters(write.address, write.values);
          return;
      }
    });
  }

  close(): Promise<void> {
    if (!this.client.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.client.close(() => resolve()));
  }
}
