/**
 * Read planning: which Modbus read requests fetch a set of register spans in the least bus time.
 * Pure, so that it can be table-tested without a bus.
 */
import {
  DEFAULT_SERIAL_LINE,
  frameMs,
  interFrameSilenceMs,
  READ_REQUEST_BYTES,
  readResponseBytes,
  type SerialLine,
} from './wire-time.js';

export type ModbusTable = 'holding' | 'input' | 'coil' | 'discrete';

export interface RegisterSpan {
  table: ModbusTable;
  address: number;
  /** Registers (or bits, for coils and discrete inputs) the span covers. */
  count: number;
}

export interface ReadRequest extends RegisterSpan {
  /** Indices into the spans this request fetches. */
  spans: number[];
}

export interface PlanLimits {
  /** Registers one FC 3/4 request may read: 125 by the protocol, fewer on many meters. */
  maxRegisters: number;
  /** Bits one FC 1/2 request may read: 2000 by the protocol. */
  maxBits: number;
  /**
   * Addresses the device answers "illegal data address" for, learned from failed requests (see
   * `unreadableGaps`). No request covers one of them unless a span asks for it.
   */
  unreadable?: readonly RegisterSpan[];
}

/** The protocol's own limits (Modbus Application Protocol V1.1b3 §6.1–6.4). */
export const DEFAULT_PLAN_LIMITS: PlanLimits = { maxRegisters: 125, maxBits: 2000 };

/** What one read request costs on the bus of the device it goes to. */
export interface RequestCostModel {
  /** The RS-485 line; absent for Modbus TCP, which is costed on DEFAULT_SERIAL_LINE. */
  line?: SerialLine;
  /** How long the device takes from the end of a request to the start of its answer. */
  turnaroundMs: number;
}

/** Function-code order (FC 1, 2, 3, 4): the order requests of a plan come in. */
const TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'holding', 'input'];

function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

/**
 * Bus time of one read of `count` registers or bits: request frame, t3.5, the device's
 * turnaround, response frame, t3.5 (Modbus over Serial Line V1.02 §2.5.1.1).
 *
 * Modbus TCP has no line of its own, but a request there still costs a fixed round trip (and,
 * behind the many TCP-to-RTU gateways, a serial transaction) against a small cost per byte. Costing
 * it on the nominal 9600 8E1 line keeps that trade-off with one model to reason about instead of a
 * second set of figures nobody has measured.
 */
export function requestBusMs(model: RequestCostModel, table: ModbusTable, count: number): number {
  const line = model.line ?? DEFAULT_SERIAL_LINE;
  const response = readResponseBytes(isBitTable(table) ? 'bits' : 'registers', count);
  const silence = interFrameSilenceMs(line);
  return frameMs(line, READ_REQUEST_BYTES) + silence + model.turnaroundMs + frameMs(line, response) + silence;
}

/** Bus time of a whole plan. */
export function planBusMs(plan: readonly ReadRequest[], model: RequestCostModel): number {
  return plan.reduce((total, request) => total + requestBusMs(model, request.table, request.count), 0);
}

/** Half-open address range [start, end). */
interface AddressRange {
  start: number;
  end: number;
}

interface IndexedSpan {
  span: RegisterSpan;
  index: number;
}

function endOf(span: RegisterSpan): number {
  return span.address + span.count;
}

function assertFitsOneRequest(span: RegisterSpan, index: number, limits: PlanLimits): void {
  const max = isBitTable(span.table) ? limits.maxBits : limits.maxRegisters;
  const unit = isBitTable(span.table) ? 'bits' : 'registers';
  const name = `span ${index} (${span.table} ${span.address}+${span.count})`;
  if (!Number.isInteger(span.count) || span.count < 1) throw new RangeError(`${name} must cover at least one address`);
  if (span.count > max) throw new RangeError(`${name} is wider than the ${max} ${unit} a request may read`);
}

/**
 * The parts of `ranges` outside every span: what a request must not cover. An unreadable
 * address that a span asks for is read anyway, since the point needs it.
 * `sorted` is in address order, which lets one sweep per range do it.
 */
function forbiddenRanges(ranges: readonly AddressRange[], sorted: readonly IndexedSpan[]): AddressRange[] {
  const forbidden: AddressRange[] = [];
  for (const range of ranges) {
    let start = range.start;
    for (const { span } of sorted) {
      if (endOf(span) <= start || span.address >= range.end) continue;
      if (span.address > start) forbidden.push({ start, end: span.address });
      start = endOf(span);
    }
    if (start < range.end) forbidden.push({ start, end: range.end });
  }
  return forbidden;
}

function overlapsAny(ranges: readonly AddressRange[], start: number, end: number): boolean {
  return ranges.some((range) => range.start < end && start < range.end);
}

/**
 * The cheapest requests for one table's spans, sorted by address. Some optimal plan reads runs of
 * consecutive sorted spans: when a request's spans straddle a span another request reads, one of
 * the two requests already covers the other's span whole, which can move to it at no cost. So
 * best[j], the least bus time that reads the first j spans, is the cheapest best[i] plus one
 * request for spans i..j-1.
 */
function planTable(
  table: ModbusTable,
  sorted: readonly IndexedSpan[],
  max: number,
  forbidden: readonly AddressRange[],
  model: RequestCostModel,
): ReadRequest[] {
  const best: number[] = [0];
  const groupStart: number[] = [0];
  for (let j = 0; j < sorted.length; j++) {
    best.push(Infinity);
    groupStart.push(j);
    let end = 0;
    // Widening the group leftwards only grows its range, so the first range too wide or
    // covering a forbidden address ends the search for this j.
    for (let i = j; i >= 0; i--) {
      const start = sorted[i]!.span.address;
      end = Math.max(end, endOf(sorted[i]!.span));
      if (end - start > max || overlapsAny(forbidden, start, end)) break;
      const total = best[i]! + requestBusMs(model, table, end - start);
      if (total < best[j + 1]!) {
        best[j + 1] = total;
        groupStart[j + 1] = i;
      }
    }
  }
  const requests: ReadRequest[] = [];
  for (let j = sorted.length; j > 0; j = groupStart[j]!) {
    const group = sorted.slice(groupStart[j], j);
    const address = group[0]!.span.address;
    const end = Math.max(...group.map(({ span }) => endOf(span)));
    requests.push({ table, address, count: end - address, spans: group.map(({ index }) => index) });
  }
  return requests.reverse();
}

/**
 * The read requests that fetch every span in the least total bus time, in table then address
 * order. Merging two spans into one request reads the gap between them but saves a request's
 * frames, silences and turnaround; the plan takes each merge exactly when it pays.
 * Throws a RangeError naming the first span no single request can read.
 */
export function planReads(spans: readonly RegisterSpan[], limits: PlanLimits, model: RequestCostModel): ReadRequest[] {
  spans.forEach((span, index) => assertFitsOneRequest(span, index, limits));
  return TABLES.flatMap((table) => {
    const sorted = spans
      .map((span, index) => ({ span, index }))
      .filter(({ span }) => span.table === table)
      .sort((a, b) => a.span.address - b.span.address || a.span.count - b.span.count);
    const unreadable = (limits.unreadable ?? [])
      .filter((range) => range.table === table)
      .map((range) => ({ start: range.address, end: endOf(range) }));
    const max = isBitTable(table) ? limits.maxBits : limits.maxRegisters;
    return planTable(table, sorted, max, forbiddenRanges(unreadable, sorted), model);
  });
}

/**
 * The addresses a request read without any of its spans asking for them. When a device answers
 * a merged request with "illegal data address", these are the suspects: add them to
 * `limits.unreadable` and plan again. An empty answer means the fault lies in the spans
 * themselves, which no re-planning avoids.
 */
export function unreadableGaps(request: ReadRequest, spans: readonly RegisterSpan[]): RegisterSpan[] {
  const own = request.spans.map((index) => ({ span: spans[index]!, index })).sort((a, b) => a.span.address - b.span.address);
  const whole = { start: request.address, end: endOf(request) };
  return forbiddenRanges([whole], own).map((gap) => ({ table: request.table, address: gap.start, count: gap.end - gap.start }));
}
