import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import { dlt645, frameMs, type SerialLine } from '@gatehouse/protocols';
import type { Dlt645Profile } from '../profile/schema.js';
import { DEFAULT_ELECTRIC_METER, ElectricMeterBehaviour } from './electric-meter.js';
import { Dlt645Meter } from './dlt645-meter.js';
import { dlt645PointsOf } from './dlt645-profile.js';
import { FaultInjector, type FaultPlan, type FaultSpec } from './faults.js';
import { responseDelay, type ResponseDelay, type ResponseDelayModel } from './rtu-slave.js';

/**
 * DL/T 645-2007 meters on one RS-485 line: a serial port (one end of a socat pty pair in tests)
 * with one or more meters behind it, each answering by its address, their values moving like a
 * residential meter's, their answers held back for the time they would take on the wire.
 *
 * What the line does, as the standard and real meters do:
 * - a frame to an address no meter has is ignored, as every other meter on a multi-drop bus
 *   ignores it; a broadcast (999999999999) is taken by every meter and answered by none;
 * - wildcard digits (A) reach every meter whose address they fit. One meter answers; when
 *   several fit, they all answer at once and the line carries their collision, garbage that
 *   fails the master's checks (which is why AAAAAAAAAAAA is for point-to-point lines);
 * - faults (per meter, by its position on the line from 1) damage answers: `crc` a wrong
 *   checksum, `truncate` an answer cut short (no end byte), `wrong-unit` another meter's
 *   address, `exception` an abnormal answer with the fault's error byte (default "other
 *   error"), `silence` no answer.
 */

/** DL/T 645 meters are set to 2400 baud, 8 data bits, even parity, 1 stop bit out of the factory. */
export const DLT645_LINE: SerialLine = { baud: 2400, dataBits: 8, parity: 'even', stopBits: 1 };

export interface Dlt645MeterOptions {
  /** Twelve digits, as on the nameplate. */
  address: string;
  /** Values pinned to these, whatever the behaviour says (tests that compare exact values). */
  fixed?: Readonly<Record<string, number>>;
  /** The household's evening peak (default 3 kW plus 1 kW per meter before it on the line). */
  peakPowerKw?: number;
  energyImportKwh?: number;
}

export interface Dlt645SimulatorOptions {
  /** The serial device, e.g. one end of a socat pty pair. */
  path: string;
  profile: Dlt645Profile;
  meters: readonly Dlt645MeterOptions[];
  /** Default DLT645_LINE. Linux ptys ignore parity; a real port applies it. */
  line?: SerialLine;
  /** The meter's processing time between a request and its answer (default 20 ms). */
  turnaroundMs?: number;
  /**
   * How answers are held back (default `round-trip`): the request's wire time (its frame and four
   * wake-up bytes), the turnaround, and the answer's wire time; `answer`: turnaround and answer;
   * `none`: turnaround only. Unlike Modbus there is no 3.5-character silence: a meter knows a
   * frame has ended from its length byte and its end byte.
   */
  delay?: ResponseDelayModel | ResponseDelay;
  /** Wake-up bytes (0xFE) the meters send before an answer: some send four, some none (default 2). */
  wakeUp?: number;
  /** Freeze every value at its start. */
  hold?: boolean;
  now?: () => number;
  /** Faults per meter, by its position in `meters` (1 is the first). */
  faults?: FaultPlan;
  /** Silence after which a request still incomplete is given up as noise (default 100 ms). */
  frameGapMs?: number;
}

export interface Dlt645SimulatorStats {
  /** Well-formed frames from the master, to any address. */
  requests: number;
  answers: number;
  broadcasts: number;
  /** Frames for addresses no meter on the line has. */
  ignored: number;
  /** Wildcard frames several meters answered at once. */
  collisions: number;
  faulted: number;
  /** Damaged frames received (bad checksum, length or end byte). */
  rejected: number;
  /** Bytes received that belonged to no frame. */
  noise: number;
}

export interface Dlt645Simulator {
  /** The catalogue values the meter at `address` holds now. */
  values(address: string): Readonly<Record<string, number>> | undefined;
  /** Replaces every meter's faults; their counts and PRNGs start afresh. */
  setFaults(faults: FaultPlan): void;
  /** Puts `bytes` on the line just before the next answer: noise, or a damaged frame. */
  injectBeforeNextAnswer(bytes: Uint8Array): void;
  stats(): Dlt645SimulatorStats;
  close(): Promise<void>;
}

/** The four wake-up bytes a master sends are part of a request's time on the wire. */
const REQUEST_WAKE_UP_BYTES = dlt645.DEFAULT_WAKE_UP_BYTES;

export function dlt645ResponseDelay(model: ResponseDelayModel, line: SerialLine, turnaroundMs: number): ResponseDelay {
  if (model !== 'round-trip') return responseDelay(model, line, turnaroundMs);
  const answer = responseDelay('answer', line, turnaroundMs);
  return (frame) => frameMs(line, frame.requestBytes) + answer(frame);
}

/** The values of one meter on the line, moving with the time they are read at. */
function meterValues(options: Dlt645MeterOptions, position: number, singlePhase: boolean, hold: boolean, now: () => number) {
  const behaviour = new ElectricMeterBehaviour(
    {
      ...DEFAULT_ELECTRIC_METER,
      seed: position,
      peakPowerKw: options.peakPowerKw ?? 3 + position,
      energyImportKwh: options.energyImportKwh ?? 1000 * position + 234.56,
    },
    now(),
  );
  const shaped = (values: Record<string, number>) => {
    // The behaviour spreads power over three phases; a single-phase meter carries all of it.
    if (!singlePhase) return values;
    const current = (values.active_power_kw! * 1000) / (values.voltage_l1_v! * values.power_factor!);
    return { ...values, current_l1_a: current };
  };
  const start = { ...shaped(behaviour.values()), ...options.fixed };
  return () => (hold ? start : { ...shaped(behaviour.advance(now())), ...options.fixed });
}

function damage(answer: Buffer, fault: FaultSpec, wakeUp: number): Buffer {
  const frame = Buffer.from(answer);
  switch (fault.kind) {
    case 'crc':
      frame[frame.length - 2]! ^= 0xff;
      return frame;
    case 'truncate':
      return frame.subarray(0, Math.max(1, Math.min(fault.bytes ?? frame.length - 1, frame.length - 1)));
    case 'wrong-unit': {
      // Another meter's address: the last digit moved on by one, checksum made right again.
      const decoded = dlt645.decodeFrame(frame.subarray(wakeUp));
      if (!decoded.ok) return frame;
      const digits = decoded.frame.address;
      const other = digits.slice(0, 11) + ((Number(digits[11]) + 1) % 10).toString();
      return dlt645.encodeFrame({ ...decoded.frame, address: other }, { wakeUp });
    }
    default:
      return frame;
  }
}

/** OR-ed bytes of answers sent at once: what a master hears when several meters drive the line. */
function collide(answers: readonly Buffer[]): Buffer {
  const line = Buffer.alloc(Math.max(...answers.map((answer) => answer.length)));
  for (const answer of answers) answer.forEach((byte, i) => (line[i]! |= byte));
  return line;
}

export async function startDlt645Simulator(options: Dlt645SimulatorOptions): Promise<Dlt645Simulator> {
  const line = options.line ?? DLT645_LINE;
  const turnaroundMs = options.turnaroundMs ?? 20;
  const wakeUp = options.wakeUp ?? 2;
  const now = options.now ?? Date.now;
  const delay =
    typeof options.delay === 'function' ? options.delay : dlt645ResponseDelay(options.delay ?? 'round-trip', line, turnaroundMs);
  const points = dlt645PointsOf(options.profile);
  const singlePhase = !points.some((point) => point.point === 'voltage_l2_v');
  const sources = new Map<string, () => Record<string, number>>();
  const meters = options.meters.map((meter, index) => {
    const values = meterValues(meter, index + 1, singlePhase, options.hold ?? false, now);
    sources.set(meter.address, values);
    return new Dlt645Meter(meter.address, points, values);
  });
  if (new Set(sources.keys()).size !== meters.length) throw new RangeError('two meters on one line share an address');
  const faults = new FaultInjector(options.faults);
  const stats: Dlt645SimulatorStats = { requests: 0, answers: 0, broadcasts: 0, ignored: 0, collisions: 0, faulted: 0, rejected: 0, noise: 0 };
  const timers = new Set<NodeJS.Timeout>();
  let busyUntil = 0;
  let injected: Buffer | undefined;

  const port = new SerialPort({
    path: options.path,
    baudRate: line.baud,
    dataBits: line.dataBits,
    parity: line.parity,
    stopBits: line.stopBits,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  // A vanished peer (socat exiting) surfaces as an error on the port; the meters go quiet.
  port.on('error', () => undefined);

  /** Writes `bytes` when the answer's last byte would have arrived on a real line. */
  const sendAt = (deadline: number, bytes: Buffer) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      stats.answers += 1;
      if (port.isOpen) port.write(bytes);
    }, Math.max(0, Math.ceil(deadline - performance.now())));
    timers.add(timer);
  };

  const answerOf = (meter: Dlt645Meter, position: number, request: dlt645.Dlt645Frame): Buffer | undefined => {
    const fault = faults.draw(position);
    if (fault) stats.faulted += 1;
    if (fault?.kind === 'silence') return undefined;
    const answer =
      fault?.kind === 'exception'
        ? dlt645.abnormalAnswer(meter.address, dlt645.parseControl(request.control).fn, fault.exceptionCode ?? dlt645.DLT645_ERROR_BITS.otherError)
        : meter.answer(request);
    if (!answer) return undefined;
    const bytes = dlt645.encodeFrame(answer, { wakeUp });
    return fault ? damage(bytes, fault, wakeUp) : bytes;
  };

  const handle = (request: dlt645.Dlt645Frame) => {
    const received = performance.now();
    if (dlt645.parseControl(request.control).fromMeter) return; // another meter's answer
    stats.requests += 1;
    if (request.address === dlt645.BROADCAST_ADDRESS) {
      stats.broadcasts += 1;
      return;
    }
    const answers = meters.flatMap((meter, index) => {
      if (!dlt645.addressMatches(request.address, meter.address)) return [];
      const answer = answerOf(meter, index + 1, request);
      return answer ? [answer] : [];
    });
    if (!meters.some((meter) => dlt645.addressMatches(request.address, meter.address))) stats.ignored += 1;
    if (answers.length === 0) return;
    if (answers.length > 1) stats.collisions += 1;
    let bytes = answers.length > 1 ? collide(answers) : answers[0]!;
    if (injected) {
      bytes = Buffer.concat([injected, bytes]);
      injected = undefined;
    }
    const requestBytes = dlt645.frameBytes(request.data.length, REQUEST_WAKE_UP_BYTES);
    // Half-duplex: an answer cannot start before the previous one has finished.
    const deadline = Math.max(received, busyUntil) + delay({ requestBytes, answerBytes: bytes.length });
    busyUntil = deadline;
    sendAt(deadline, bytes);
  };

  const scanner = new dlt645.FrameScanner();
  const gapMs = options.frameGapMs ?? 100;
  let idle: NodeJS.Timeout | undefined;
  const take = (events: dlt645.ScanEvent[]) => {
    stats.noise = scanner.noise;
    for (const event of events) {
      if (event.kind === 'frame') handle(event.frame);
      else stats.rejected += 1;
    }
  };
  port.on('data', (chunk: Buffer) => {
    take(scanner.push(chunk));
    clearTimeout(idle);
    idle = scanner.buffered > 0 ? setTimeout(() => take(scanner.idle()), gapMs) : undefined;
  });

  return {
    values: (address) => sources.get(address)?.(),
    setFaults: (plan) => faults.set(plan),
    injectBeforeNextAnswer: (bytes) => {
      injected = Buffer.concat([injected ?? Buffer.alloc(0), bytes]);
    },
    stats: () => ({ ...stats }),
    close: async () => {
      clearTimeout(idle);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      if (!port.isOpen) return;
      await new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}
