/**
 * The least bus time that reads a meter's points, found without the agent's planner, so that the
 * benchmark can tell whether the planner's plan is optimal rather than trust it.
 *
 * Independent of `planReads` in two ways: the cost of a transaction is written out again here from
 * the specifications, and the search is a branch and bound over every way of cutting each table's
 * sorted points into runs, one request per run, instead of the planner's dynamic programme.
 *
 * Why runs of sorted points cover every plan: the points of one table here never overlap, and a
 * request reads one address interval. If a request carried points on both sides of a point read
 * by another request, its interval would hold that point whole, which could move to it at no cost,
 * leaving the other request the same or smaller. So some optimal plan reads runs of consecutive
 * points, and searching the runs is searching all plans.
 */
import type { SerialLine } from '@gatehouse/protocols';
import type { ModbusTable } from '@gatehouse/devices';

export interface Span {
  table: ModbusTable;
  address: number;
  count: number;
}

/**
 * Bus time of one FC 3/4 read of `registers` registers on `line`: request and answer frames, the
 * 3.5-character silence after each (Modbus over Serial Line V1.02 §2.5.1.1; fixed at 1.75 ms above
 * 19200 baud) and the device's turnaround. A character is a start bit, the data bits, a parity bit
 * unless parity is none, and the stop bits. Request: unit, function, address (2), quantity (2),
 * CRC (2) = 8 bytes; answer: unit, function, byte count, 2 per register, CRC (2) (Modbus
 * Application Protocol V1.1b3 §6.3, §6.4).
 */
export function transactionMs(line: SerialLine, turnaroundMs: number, registers: number): number {
  const characterMs = ((1 + line.dataBits + (line.parity === 'none' ? 0 : 1) + line.stopBits) * 1000) / line.baud;
  const silenceMs = line.baud > 19_200 ? 1.75 : 3.5 * characterMs;
  const requestBytes = 8;
  const answerBytes = 5 + 2 * registers;
  return (requestBytes + answerBytes) * characterMs + 2 * silenceMs + turnaroundMs;
}

export interface OptimumResult {
  busMs: number;
  requests: number;
  /** Search nodes visited, over all blocks: how much work proving the optimum took. */
  nodes: number;
}

/** Beyond this many nodes in one block the search gives up rather than run for ever. */
const NODE_LIMIT = 20_000_000;

/**
 * Cuts `spans` (one table, sorted, disjoint) into runs of at most `maxRegisters` registers at the
 * least total cost. Depth first, longest run first so that a good plan is found early; a branch is
 * dropped only when even its lower bound (every remaining register read once, in as few requests
 * as the register limit allows) cannot beat the best plan found.
 */
function bestRuns(spans: readonly Span[], maxRegisters: number, cost: (registers: number) => number) {
  const n = spans.length;
  const overheadMs = cost(0);
  const perRegisterMs = cost(1) - overheadMs;
  const remaining: number[] = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i--) remaining[i] = remaining[i + 1]! + spans[i]!.count;
  const lowerBound = (i: number) => (i === n ? 0 : Math.ceil(remaining[i]! / maxRegisters) * overheadMs + remaining[i]! * perRegisterMs);
  let best = Infinity;
  let bestRequests = 0;
  let nodes = 0;
  const search = (i: number, spentMs: number, requests: number): void => {
    if (++nodes > NODE_LIMIT) throw new Error(`optimum search gave up after ${NODE_LIMIT} nodes on a block of ${n} points`);
    if (i === n) {
      if (spentMs < best) {
        best = spentMs;
        bestRequests = requests;
      }
      return;
    }
    if (spentMs + lowerBound(i) >= best) return;
    const start = spans[i]!.address;
    for (let j = n - 1; j >= i; j--) {
      const width = spans[j]!.address + spans[j]!.count - start;
      if (width > maxRegisters) continue;
      search(j + 1, spentMs + cost(width), requests + 1);
    }
  };
  search(0, 0, 0);
  return { busMs: best, requests: bestRequests, nodes };
}

/**
 * The optimal plan's bus time for one device. Each table's points are first cut where the gap
 * between neighbours costs at least a request's fixed part on the wire: a request spanning such a
 * gap never costs less than two requests either side of it (which read the same points, and are
 * narrower), so some optimal plan cuts there, and the blocks can be searched one by one.
 */
export function optimalBusMs(spans: readonly Span[], maxRegisters: number, cost: (registers: number) => number): OptimumResult {
  const overheadMs = cost(0);
  const perRegisterMs = cost(1) - overheadMs;
  const total: OptimumResult = { busMs: 0, requests: 0, nodes: 0 };
  const tables = [...new Set(spans.map((span) => span.table))];
  for (const table of tables) {
    if (table === 'coil' || table === 'discrete') throw new Error('the benchmark maps hold registers only');
    const sorted = spans.filter((span) => span.table === table).sort((a, b) => a.address - b.address);
    const blocks: Span[][] = [];
    let end = -Infinity;
    for (const span of sorted) {
      if (span.address < end) throw new Error(`${table} ${span.address}: points overlap`);
      if (blocks.length === 0 || (span.address - end) * perRegisterMs >= overheadMs) blocks.push([]);
      blocks[blocks.length - 1]!.push(span);
      end = span.address + span.count;
    }
    for (const block of blocks) {
      const best = bestRuns(block, maxRegisters, cost);
      total.busMs += best.busMs;
      total.requests += best.requests;
      total.nodes += best.nodes;
    }
  }
  return total;
}
