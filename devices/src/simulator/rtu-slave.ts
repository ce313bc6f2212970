import { createServer, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import { frameMs, interFrameSilenceMs, type SerialLine } from '@gatehouse/protocols';
import { answerFrame, FaultInjector, type FaultPlan } from './faults.js';
import type { SlaveMemory } from './memory.js';
import { answerPdu } from './pdu.js';
import { BROADCAST_UNIT, MAX_UNIT, scanRequests, type RtuFrame } from './rtu-framing.js';

/**
 * A Modbus RTU slave (or several, one per unit id, sharing one RS-485 line) on a serial port or
 * behind a raw TCP socket, answering with the timing of the wire and with injected faults.
 *
 * On the line (Modbus over Serial Line V1.02): a request for a unit id this slave does not hold is
 * ignored, as every other slave on a multi-drop bus ignores it (§2.4); a broadcast (unit 0) is
 * executed by every unit and answered by none (§2.1).
 */

/** Over TCP the slave is an RS-485-to-Ethernet device server: raw RTU frames, CRC and all. */
export type RtuTransport = RtuSerialTransport | RtuTcpTransport;
export interface RtuSerialTransport {
  kind: 'serial';
  /** A serial device, e.g. one end of a socat pseudo-terminal pair. */
  path: string;
}
export interface RtuTcpTransport {
  kind: 'tcp';
  host?: string;
  /** 0 picks a free port; `address()` tells which. */
  port: number;
}

/**
 * How long to hold an answer back, in milliseconds from the moment its request arrived.
 *
 * The timing model. On real hardware the master's UART spends frameMs(request) clocking the
 * request out before the master starts waiting; the slave sees the frame end after t3.5, turns
 * around, and spends frameMs(answer) clocking the answer back; the master holds the answer when
 * its last byte arrives. A pseudo-terminal or a socket carries the bytes instantly and whole, so
 * the slave writes the whole answer at the moment its last byte would have arrived:
 *
 * - `round-trip` (default): frameMs(request) + t3.5 + turnaroundMs + frameMs(answer): the whole
 *   time the transaction holds a real line, so that a poll cycle over a pty lasts as long as it
 *   would on RS-485.
 * - `answer`: turnaroundMs + frameMs(answer), the turnaround standing for the slave's
 *   end-of-frame detection and processing: what a master that starts its clock after its own
 *   write has drained sees on a real line.
 * - `none`: turnaroundMs only.
 */
export type ResponseDelay = (frame: { requestBytes: number; answerBytes: number }) => number;
export type ResponseDelayModel = 'answer' | 'round-trip' | 'none';

export function responseDelay(model: ResponseDelayModel, line: SerialLine, turnaroundMs: number): ResponseDelay {
  switch (model) {
    case 'answer':
      return ({ answerBytes }) => turnaroundMs + frameMs(line, answerBytes);
    case 'round-trip':
      return ({ requestBytes, answerBytes }) =>
        frameMs(line, requestBytes) + interFrameSilenceMs(line) + turnaroundMs + frameMs(line, answerBytes);
    case 'none':
      return () => turnaroundMs;
  }
}

export interface RtuSlaveOptions {
  /** Unit id (1..247) → the slave answering it. */
  units: ReadonlyMap<number, SlaveMemory>;
  /** Baud rate, data bits, parity and stop bits: set on the serial port and used for wire time. */
  line: SerialLine;
  /** The slave's processing time between a request and its answer. */
  turnaroundMs: number;
  /** How answers are delayed (default `round-trip`: the whole transaction's time on the wire). */
  delay?: ResponseDelayModel | ResponseDelay;
  /**
   * Silence after which an incomplete request is given up as noise (or, for a function whose
   * request length is not known from its code, taken as complete). Default max(t3.5, 20 ms): a
   * pseudo-terminal's delivery jitter is the scheduler's, not the baud rate's.
   */
  frameGapMs?: number;
  transport: RtuTransport;
  /** Faults to commit, per unit id; replaceable at run time with `setFaults`. */
  faults?: FaultPlan;
}

export interface RtuSlaveStats {
  /** CRC-valid request frames received, for any unit id. */
  requests: number;
  answers: number;
  broadcasts: number;
  /** Requests for unit ids this slave does not hold. */
  ignored: number;
  /** Requests on which a fault was committed. */
  faulted: number;
  /** Received bytes discarded while resynchronising on request frames. */
  droppedBytes: number;
}

export interface RtuSlave {
  /** Where a TCP slave listens; absent for a serial one. */
  address?(): AddressInfo;
  close(): Promise<void>;
  /** Replaces every unit's faults; their counts and PRNGs start afresh. */
  setFaults(faults: FaultPlan): void;
  stats(): RtuSlaveStats;
}

export interface RtuTcpSlave extends RtuSlave {
  address(): AddressInfo;
}

/** Broadcasts are meaningful for writes only (Modbus over Serial Line V1.02 §2.1). */
const WRITE_FUNCTIONS = new Set([5, 6, 15, 16]);

/** Timers that fire no earlier than their deadline on the performance clock. */
class Deadlines {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly immediates = new Set<NodeJS.Immediate>();

  /**
   * Node's timers count whole milliseconds: they fire a fraction early, or 1 to 2 ms late once
   * re-armed, which held answers back 1 to 2 ms past their wire time. So the timer stops a
   * millisecond short of the deadline and setImmediate turns cover the rest.
   */
  at(deadline: number, run: () => void): void {
    const check = () => {
      const left = deadline - performance.now();
      if (left >= 2) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          check();
        }, Math.floor(left) - 1);
        this.timers.add(timer);
      } else if (left > 0) {
        const immediate = setImmediate(() => {
          this.immediates.delete(immediate);
          check();
        });
        this.immediates.add(immediate);
      } else {
        run();
      }
    };
    check();
  }

  cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const immediate of this.immediates) clearImmediate(immediate);
    this.immediates.clear();
  }
}

/** The units on one half-duplex line: answers go out one after another, each at its wire time. */
class RtuLine {
  readonly stats: RtuSlaveStats = { requests: 0, answers: 0, broadcasts: 0, ignored: 0, faulted: 0, droppedBytes: 0 };
  readonly deadlines = new Deadlines();
  private busyUntil = 0;

  constructor(
    private readonly units: ReadonlyMap<number, SlaveMemory>,
    readonly faults: FaultInjector,
    private readonly delay: ResponseDelay,
  ) {}

  handle(request: RtuFrame, send: (answer: Buffer) => void): void {
    const received = performance.now();
    this.stats.requests += 1;
    if (request.unit === BROADCAST_UNIT) {
      if (!WRITE_FUNCTIONS.has(request.pdu[0] ?? 0)) return;
      this.stats.broadcasts += 1;
      for (const memory of this.units.values()) answerPdu(request.pdu, memory);
      return;
    }
    const memory = this.units.get(request.unit);
    if (!memory) {
      this.stats.ignored += 1;
      return;
    }
    const fault = this.faults.draw(request.unit);
    if (fault) this.stats.faulted += 1;
    const answer = answerFrame(request.unit, request.pdu, memory, fault);
    if (!answer) return;
    const wait = this.delay({ requestBytes: request.pdu.length + 3, answerBytes: answer.length });
    // The line is half-duplex: an answer cannot start before the previous one has finished.
    const deadline = Math.max(received, this.busyUntil) + wait;
    this.busyUntil = deadline;
    this.deadlines.at(deadline, () => {
      this.stats.answers += 1;
      send(answer);
    });
  }
}

/** Collects received bytes into request frames, giving up on incomplete ones after a silence. */
class FrameReceiver {
  private pending: Buffer = Buffer.alloc(0);
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly gapMs: number,
    private readonly onFrame: (frame: RtuFrame) => void,
    private readonly onDropped: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    this.scan(Buffer.concat([this.pending, chunk]), false);
    clearTimeout(this.idle);
    this.idle = this.pending.length > 0 ? setTimeout(() => this.scan(this.pending, true), this.gapMs) : undefined;
  }

  stop(): void {
    clearTimeout(this.idle);
  }

  private scan(bytes: Buffer, lineIdle: boolean): void {
    const { frames, rest, dropped } = scanRequests(bytes, lineIdle);
    this.pending = rest;
    if (dropped > 0) this.onDropped(dropped);
    for (const frame of frames) this.onFrame(frame);
  }
}

export function startRtuSlave(options: RtuSlaveOptions & { transport: RtuTcpTransport }): Promise<RtuTcpSlave>;
export function startRtuSlave(options: RtuSlaveOptions): Promise<RtuSlave>;
export async function startRtuSlave(options: RtuSlaveOptions): Promise<RtuSlave> {
  const { line: serialLine, turnaroundMs, transport } = options;
  for (const unit of options.units.keys()) {
    if (!Number.isInteger(unit) || unit < 1 || unit > MAX_UNIT) throw new RangeError(`unit id ${unit}: expected 1..${MAX_UNIT}`);
  }
  if (!(turnaroundMs >= 0)) throw new RangeError(`turnaroundMs ${turnaroundMs}: expected ≥ 0`);
  const delay =
    typeof options.delay === 'function' ? options.delay : responseDelay(options.delay ?? 'round-trip', serialLine, turnaroundMs);
  const line = new RtuLine(options.units, new FaultInjector(options.faults), delay);
  const gapMs = options.frameGapMs ?? Math.max(interFrameSilenceMs(serialLine), 20);
  const receiver = (send: (answer: Buffer) => void) =>
    new FrameReceiver(
      gapMs,
      (frame) => line.handle(frame, send),
      (bytes) => (line.stats.droppedBytes += bytes),
    );
  const common = {
    setFaults: (faults: FaultPlan) => line.faults.set(faults),
    stats: () => ({ ...line.stats }),
  };

  if (transport.kind === 'serial') {
    const port = new SerialPort({
      path: transport.path,
      baudRate: serialLine.baud,
      dataBits: serialLine.dataBits,
      parity: serialLine.parity,
      stopBits: serialLine.stopBits,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    const frames = receiver((answer) => {
      if (port.isOpen) port.write(answer);
    });
    port.on('data', (chunk: Buffer) => frames.push(chunk));
    // A vanished peer (socat exiting) surfaces as an error on the port; the slave simply goes quiet.
    port.on('error', () => undefined);
    return {
      ...common,
      close: async () => {
        line.deadlines.cancelAll();
        frames.stop();
        if (!port.isOpen) return;
        await new Promise<void>((resolve) => port.close(() => resolve()));
      },
    };
  }

  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const frames = receiver((answer) => {
      if (!socket.destroyed) socket.write(answer);
    });
    socket.on('data', (chunk) => frames.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      frames.stop();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(transport.port, transport.host ?? '127.0.0.1', () => resolve());
  });
  return {
    ...common,
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        line.deadlines.cancelAll();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
