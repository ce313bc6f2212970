/**
 * Read planning: which Modbus read requests fetch a set of register spans. Pure, so that it can be
 * table-tested without a bus.
 */
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
  maxRegisters: number;
  maxBits: number;
  /**
   * The largest gap of unwanted registers worth reading to save a request. Reading a gap costs
   * its bytes on the wire; a new request costs its own frames and the device's turnaround.
   */
  maxGapRegisters: number;
  maxGapBits: number;
}

export const DEFAULT_PLAN_LIMITS: PlanLimits = {
  maxRegisters: 125,
  maxBits: 2000,
  maxGapRegisters: 8,
  maxGapBits: 64,
};

function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

/**
 * Groups spans into requests per table, merging neighbours while the merged request stays within
 * the device's limits and the gap between them is worth reading.
 */
export function planReads(spans: readonly RegisterSpan[], limits: PlanLimits = DEFAULT_PLAN_LIMITS): ReadRequest[] {
  const order = spans
    .map((span, index) => ({ span, index }))
    .sort((a, b) => a.span.table.localeCompare(b.span.table) || a.span.address - b.span.address);
  const requests: ReadRequest[] = [];
  let current: ReadRequest | undefined;
  for (const { span, index } of order) {
    const bits = isBitTable(span.table);
    const max = bits ? limits.maxBits : limits.maxRegisters;
    const maxGap = bits ? limits.maxGapBits : limits.maxGapRegisters;
    if (current && current.table === span.table) {
      const end = Math.max(current.address + current.count, span.address + span.count);
      const gap = span.address - (current.address + current.count);
      if (gap <= maxGap && end - current.address <= max) {
        current.count = end - current.address;
        current.spans.push(index);
        continue;
      }
    }
    if (span.count > max) throw new RangeError(`a ${span.count}-wide span exceeds the ${max} a request may read`);
    current = { table: span.table, address: span.address, count: span.count, spans: [index] };
    requests.push(current);
  }
  return requests;
}
