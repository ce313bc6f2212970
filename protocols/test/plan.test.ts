import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PLAN_LIMITS,
  planBusMs,
  planReads,
  requestBusMs,
  seededRandom,
  unreadableGaps,
  type ModbusTable,
  type PlanLimits,
  type ReadRequest,
  type RegisterSpan,
  type RequestCostModel,
  type SerialLine,
} from '../src/index.js';

const span = (table: ModbusTable) => (address: number, count: number): RegisterSpan => ({ table, address, count });
const holding = span('holding');
const input = span('input');
const coil = span('coil');
const discrete = span('discrete');

const LINE_9600_8E1: SerialLine = { baud: 9600, dataBits: 8, parity: 'even', stopBits: 1 };
const LINE_19200_8N1: SerialLine = { baud: 19_200, dataBits: 8, parity: 'none', stopBits: 1 };
const LINE_115200_8N1: SerialLine = { baud: 115_200, dataBits: 8, parity: 'none', stopBits: 1 };
const LINE_4800_7E2: SerialLine = { baud: 4800, dataBits: 7, parity: 'even', stopBits: 2 };

/**
 * The quickest device on the nominal 9600 8E1 line. A character is 11 bits, c = 11/9.6 ms; a read
 * costs 8 + 5 bytes of frames and 2 × 3.5 characters of silence, 20c, plus 2c per register or c
 * per 8 bits. So a gap of g registers is worth reading when 2g < 20.
 */
const QUICK: RequestCostModel = { turnaroundMs: 0 };

type Expected = [ModbusTable, number, number, number[]];
const requestsOf = (plan: readonly ReadRequest[]): Expected[] =>
  plan.map((request) => [request.table, request.address, request.count, request.spans]);

describe('requestBusMs', () => {
  const c9600 = 11 / 9.6;
  it.each<[string, RequestCostModel, ModbusTable, number, number]>([
    // 8 + (5 + 20) bytes + 7 characters of silence = 40c, then the turnaround.
    ['FC 3, 10 registers, 9600 8E1', { line: LINE_9600_8E1, turnaroundMs: 10 }, 'holding', 10, 40 * c9600 + 10],
    ['FC 4, 1 register, 19200 8N1 (t3.5 still 3.5c)', { line: LINE_19200_8N1, turnaroundMs: 5 }, 'input', 1, 22 * (10 / 19.2) + 5],
    // Above 19200 baud t3.5 is fixed at 1.75 ms: 8 + 7 bytes, then two silences.
    ['FC 1, 16 coils, 115200 8N1', { line: LINE_115200_8N1, turnaroundMs: 0 }, 'coil', 16, 15 * (10 / 115.2) + 3.5],
    ['FC 2, 17 inputs (3 bytes), 4800 7E2', { line: LINE_4800_7E2, turnaroundMs: 0 }, 'discrete', 17, 23 * (11 / 4.8)],
    ['Modbus TCP: the nominal 9600 8E1 line', { turnaroundMs: 10 }, 'holding', 10, 40 * c9600 + 10],
  ])('%s', (_name, model, table, count, expected) => {
    expect(requestBusMs(model, table, count)).toBeCloseTo(expected, 9);
  });

  it('a plan costs the sum of its requests', () => {
    const plan = planReads([holding(0, 10), coil(0, 16)], DEFAULT_PLAN_LIMITS, QUICK);
    expect(planBusMs(plan, QUICK)).toBeCloseTo(requestBusMs(QUICK, 'holding', 10) + requestBusMs(QUICK, 'coil', 16), 9);
  });
});

describe('planReads', () => {
  const fast: RequestCostModel = { line: LINE_115200_8N1, turnaroundMs: 0 };
  it.each<[string, RegisterSpan[], Partial<PlanLimits>, RequestCostModel, Expected[]]>([
    ['adjacent spans merge', [holding(0, 2), holding(2, 2)], {}, QUICK, [['holding', 0, 4, [0, 1]]]],
    ['overlapping spans merge', [holding(0, 4), holding(2, 4)], {}, QUICK, [['holding', 0, 6, [0, 1]]]],
    ['a span inside another rides along', [holding(0, 10), holding(3, 2)], {}, QUICK, [['holding', 0, 10, [0, 1]]]],
    [
      'input order does not matter; the indices point back into it',
      [holding(20, 2), holding(0, 2), holding(2, 1)],
      {},
      QUICK,
      [
        ['holding', 0, 3, [1, 2]],
        ['holding', 20, 2, [0]],
      ],
    ],
    ['a 9-register gap is read (18c < 20c)', [holding(0, 1), holding(10, 1)], {}, QUICK, [['holding', 0, 11, [0, 1]]]],
    [
      'an 11-register gap is not (22c > 20c)',
      [holding(0, 1), holding(12, 1)],
      {},
      QUICK,
      [
        ['holding', 0, 1, [0]],
        ['holding', 12, 1, [1]],
      ],
    ],
    // A 20 ms turnaround is 17.45c more per request: gaps up to 18 registers pay.
    ['a slow device makes wider gaps worth reading', [holding(0, 1), holding(19, 1)], {}, { turnaroundMs: 20 }, [['holding', 0, 20, [0, 1]]]],
    // At 115200 baud a request costs 13c + 2 × 1.75 ms = 53.3c: gaps up to 26 registers pay.
    ['above 19200 baud the fixed t3.5 favours merging', [holding(0, 1), holding(27, 1)], {}, fast, [['holding', 0, 28, [0, 1]]]],
    [
      'and still stops where the gap costs more',
      [holding(0, 1), holding(28, 1)],
      {},
      fast,
      [
        ['holding', 0, 1, [0]],
        ['holding', 28, 1, [1]],
      ],
    ],
    [
      'the register limit splits where that reads the fewest registers',
      [holding(0, 50), holding(50, 40), holding(95, 10)],
      { maxRegisters: 100 },
      QUICK,
      [
        ['holding', 0, 90, [0, 1]],
        ['holding', 95, 10, [2]],
      ],
    ],
    [
      'a meter that reads 4 registers at a time',
      [holding(0, 2), holding(2, 2), holding(5, 1)],
      { maxRegisters: 4 },
      QUICK,
      [
        ['holding', 0, 4, [0, 1]],
        ['holding', 5, 1, [2]],
      ],
    ],
    // 101 coils in 13 bytes (33c) against two 1-coil reads (2 × 21c).
    ['coils 99 bits apart share a request', [coil(0, 1), coil(100, 1)], {}, QUICK, [['coil', 0, 101, [0, 1]]]],
    [
      'coils 299 bits apart do not (58c > 42c)',
      [coil(0, 1), coil(300, 1)],
      {},
      QUICK,
      [
        ['coil', 0, 1, [0]],
        ['coil', 300, 1, [1]],
      ],
    ],
    [
      'the bit limit holds',
      [discrete(0, 1), discrete(100, 1)],
      { maxBits: 100 },
      QUICK,
      [
        ['discrete', 0, 1, [0]],
        ['discrete', 100, 1, [1]],
      ],
    ],
    [
      'tables never share a request, and come in function-code order',
      [input(0, 1), holding(0, 1), discrete(0, 1), coil(0, 1)],
      {},
      QUICK,
      [
        ['coil', 0, 1, [3]],
        ['discrete', 0, 1, [2]],
        ['holding', 0, 1, [1]],
        ['input', 0, 1, [0]],
      ],
    ],
    [
      'no request covers an unreadable address',
      [holding(0, 1), holding(2, 1)],
      { unreadable: [holding(1, 1)] },
      QUICK,
      [
        ['holding', 0, 1, [0]],
        ['holding', 2, 1, [1]],
      ],
    ],
    [
      'an unreadable address a span asks for is read anyway',
      [holding(0, 3), holding(3, 1)],
      { unreadable: [holding(1, 1)] },
      QUICK,
      [['holding', 0, 4, [0, 1]]],
    ],
    [
      'unreadable addresses of another table do not matter',
      [holding(0, 1), holding(2, 1)],
      { unreadable: [input(1, 1)] },
      QUICK,
      [['holding', 0, 3, [0, 1]]],
    ],
    [
      'a wide unreadable range forbids only the addresses no span asks for',
      [holding(0, 2), holding(4, 2), holding(10, 2)],
      { unreadable: [holding(0, 4)] },
      QUICK,
      [
        ['holding', 0, 2, [0]],
        ['holding', 4, 8, [1, 2]],
      ],
    ],
    ['no spans, no requests', [], {}, QUICK, []],
  ])('%s', (_name, spans, limits, model, expected) => {
    expect(requestsOf(planReads(spans, { ...DEFAULT_PLAN_LIMITS, ...limits }, model))).toEqual(expected);
  });

  it.each<[string, RegisterSpan[], Partial<PlanLimits>, RegExp]>([
    ['a span over 125 registers', [holding(0, 126)], {}, /^span 0 \(holding 0\+126\) is wider than the 125 registers/],
    ['a span over 2000 bits', [holding(0, 1), coil(5, 2001)], {}, /^span 1 \(coil 5\+2001\) is wider than the 2000 bits/],
    ['a span over the device limit', [holding(0, 8)], { maxRegisters: 4 }, /^span 0 \(holding 0\+8\) is wider than the 4 registers/],
    ['an empty span', [holding(7, 0)], {}, /^span 0 \(holding 7\+0\) must cover at least one address/],
  ])('rejects %s with a RangeError naming it', (_name, spans, limits, message) => {
    expect(() => planReads(spans, { ...DEFAULT_PLAN_LIMITS, ...limits }, QUICK)).toThrow(RangeError);
    expect(() => planReads(spans, { ...DEFAULT_PLAN_LIMITS, ...limits }, QUICK)).toThrow(message);
  });

  // Every gap size against the two alternatives costed directly, on slow and fast lines and
  // devices; exact ties (where either plan is right) are skipped.
  const models: RequestCostModel[] = [QUICK, { turnaroundMs: 35 }, fast, { line: LINE_4800_7E2, turnaroundMs: 3 }];
  it.each(models.flatMap((model) => (['holding', 'coil'] as const).map((table) => [table, model] as const)))(
    'reads a %s gap exactly when that is cheaper than another request (%j)',
    (table, model) => {
      const step = table === 'coil' ? 8 : 1;
      for (let gap = 0; gap <= 60 * step; gap += step) {
        const merged = requestBusMs(model, table, gap + 2);
        const split = 2 * requestBusMs(model, table, 1);
        if (Math.abs(merged - split) < 1e-9) continue;
        const plan = planReads([span(table)(0, 1), span(table)(gap + 1, 1)], DEFAULT_PLAN_LIMITS, model);
        expect(plan.length, `gap ${gap}`).toBe(merged < split ? 1 : 2);
      }
    },
  );
});

describe('unreadableGaps', () => {
  it.each<[string, RegisterSpan[], ReadRequest, RegisterSpan[]]>([
    [
      'the gaps between a request’s spans, in any order',
      [holding(0, 2), holding(5, 1), holding(3, 1)],
      { table: 'holding', address: 0, count: 6, spans: [0, 2, 1] },
      [holding(2, 1), holding(4, 1)],
    ],
    ['none when the spans cover the request', [holding(0, 4), holding(2, 4)], { table: 'holding', address: 0, count: 6, spans: [0, 1] }, []],
    ['bits too', [coil(0, 1), coil(100, 1)], { table: 'coil', address: 0, count: 101, spans: [0, 1] }, [coil(1, 99)]],
  ])('%s', (_name, spans, request, expected) => {
    expect(unreadableGaps(request, spans)).toEqual(expected);
  });

  it('lets a plan learn from a refused merged request', () => {
    const spans = [holding(0, 2), holding(5, 2), holding(9, 1)];
    const [merged] = planReads(spans, DEFAULT_PLAN_LIMITS, QUICK);
    expect(merged).toEqual({ table: 'holding', address: 0, count: 10, spans: [0, 1, 2] });
    // The device answered "illegal data address": never read the gaps again.
    const unreadable = unreadableGaps(merged!, spans);
    const replanned = planReads(spans, { ...DEFAULT_PLAN_LIMITS, unreadable }, QUICK);
    expect(requestsOf(replanned)).toEqual([
      ['holding', 0, 2, [0]],
      ['holding', 5, 2, [1]],
      ['holding', 9, 1, [2]],
    ]);
    expect(replanned.flatMap((request) => unreadableGaps(request, spans))).toEqual([]);
  });
});

// The oracle: exhaustive search over small random maps, written apart from the planner (it shares
// only the cost of one request, checked by hand above), must find no plan cheaper than the DP's.

const TABLES: readonly ModbusTable[] = ['coil', 'discrete', 'holding', 'input'];
const TABLE_ORDER = new Map(TABLES.map((table, order) => [table, order]));
const isBits = (table: ModbusTable) => table === 'coil' || table === 'discrete';

interface RandomCase {
  spans: RegisterSpan[];
  limits: PlanLimits;
  model: RequestCostModel;
}

function randomCase(random: () => number, maxSpans: number): RandomCase {
  const int = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!;
  // Registers crowd into 64 addresses and bits into 416, so that overlaps, neighbours and gaps
  // on both sides of the break-even all turn up.
  const randomSpan = (table: ModbusTable, widest: number): RegisterSpan =>
    isBits(table) ? { table, address: int(0, 400), count: int(1, 4 * widest) } : { table, address: int(0, 60), count: int(1, widest) };
  const tables = random() < 0.6 ? [pick(TABLES)] : [pick(TABLES), pick(TABLES)];
  const spans = Array.from({ length: int(1, maxSpans) }, () => randomSpan(pick(tables), 4));
  const limits: PlanLimits = {
    maxRegisters: random() < 0.5 ? 125 : int(4, 40),
    maxBits: random() < 0.5 ? 2000 : int(16, 300),
    unreadable: random() < 0.5 ? [] : Array.from({ length: int(1, 3) }, () => randomSpan(pick(tables), 10)),
  };
  const line: SerialLine | undefined =
    random() < 0.2
      ? undefined
      : {
          baud: pick([1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200]),
          dataBits: pick([7, 8] as const),
          parity: pick(['none', 'even', 'odd'] as const),
          stopBits: pick([1, 2] as const),
        };
  return { spans, limits, model: { line, turnaroundMs: pick([0, random() * 5, random() * 100]) } };
}

/** Addresses some unreadable range holds and no span asks for, as "table address". */
function forbiddenAddresses({ spans, limits }: RandomCase): Set<string> {
  const wanted = new Set(spans.flatMap((s) => Array.from({ length: s.count }, (_, i) => `${s.table} ${s.address + i}`)));
  const refused = (limits.unreadable ?? []).flatMap((u) => Array.from({ length: u.count }, (_, i) => `${u.table} ${u.address + i}`));
  return new Set(refused.filter((address) => !wanted.has(address)));
}

/** Bus time of one request reading `group`, or Infinity where no single request may. */
function groupMs(group: readonly RegisterSpan[], { limits, model }: RandomCase, forbidden: ReadonlySet<string>): number {
  const table = group[0]!.table;
  if (group.some((s) => s.table !== table)) return Infinity;
  const start = Math.min(...group.map((s) => s.address));
  const end = Math.max(...group.map((s) => s.address + s.count));
  if (end - start > (isBits(table) ? limits.maxBits : limits.maxRegisters)) return Infinity;
  for (let address = start; address < end; address++) if (forbidden.has(`${table} ${address}`)) return Infinity;
  return requestBusMs(model, table, end - start);
}

/** Every way to cut the spans, sorted by table and address, into consecutive runs. */
function bestOverRunsMs(testCase: RandomCase): number {
  const sorted = [...testCase.spans].sort((a, b) => TABLE_ORDER.get(a.table)! - TABLE_ORDER.get(b.table)! || a.address - b.address);
  const forbidden = forbiddenAddresses(testCase);
  const runMs = new Map<string, number>(); // one run costs the same in every partition it is in
  const costOfRun = (first: number, last: number): number => {
    const key = `${first} ${last}`;
    if (!runMs.has(key)) runMs.set(key, groupMs(sorted.slice(first, last + 1), testCase, forbidden));
    return runMs.get(key)!;
  };
  let best = Infinity;
  for (let cuts = 0; cuts < 2 ** (sorted.length - 1); cuts++) {
    let total = 0;
    let first = 0;
    for (let k = 0; k < sorted.length; k++) {
      if (k < sorted.length - 1 && (cuts & (1 << k)) === 0) continue;
      total += costOfRun(first, k);
      first = k + 1;
    }
    best = Math.min(best, total);
  }
  return best;
}

/** Every set partition of the spans, runs or not (restricted growth strings). */
function bestOverAllPartitionsMs(testCase: RandomCase): number {
  const { spans } = testCase;
  const forbidden = forbiddenAddresses(testCase);
  const blockOf: number[] = [];
  const search = (k: number, blocks: number): number => {
    if (k === spans.length) {
      return Array.from({ length: blocks }, (_, b) => groupMs(spans.filter((_s, i) => blockOf[i] === b), testCase, forbidden)).reduce(
        (a, b) => a + b,
        0,
      );
    }
    let best = Infinity;
    for (let b = 0; b <= blocks; b++) {
      blockOf[k] = b;
      best = Math.min(best, search(k + 1, Math.max(blocks, b + 1)));
    }
    return best;
  };
  return search(0, 0);
}

/** What any plan must satisfy, checked without the planner's own reasoning. */
function expectValidPlan(plan: readonly ReadRequest[], testCase: RandomCase): void {
  const { spans, limits } = testCase;
  const forbidden = forbiddenAddresses(testCase);
  expect(plan.flatMap((request) => request.spans).sort((a, b) => a - b)).toEqual(spans.map((_s, i) => i));
  for (const request of plan) {
    const own = request.spans.map((i) => spans[i]!);
    expect(own.every((s) => s.table === request.table)).toBe(true);
    expect(request.address).toBe(Math.min(...own.map((s) => s.address)));
    expect(request.address + request.count).toBe(Math.max(...own.map((s) => s.address + s.count)));
    expect(request.count).toBeLessThanOrEqual(isBits(request.table) ? limits.maxBits : limits.maxRegisters);
    for (let a = request.address; a < request.address + request.count; a++) expect(forbidden.has(`${request.table} ${a}`)).toBe(false);
  }
  const order = plan.map((r) => [TABLE_ORDER.get(r.table)!, r.address] as const);
  expect([...order].sort((a, b) => a[0] - b[0] || a[1] - b[1])).toEqual(order);
}

describe('planReads against exhaustive search', () => {
  it('matches the best cut into runs on 400 random maps of up to 12 spans', () => {
    const random = seededRandom(0x6a7e);
    for (let n = 0; n < 400; n++) {
      const testCase = randomCase(random, 12);
      const plan = planReads(testCase.spans, testCase.limits, testCase.model);
      expectValidPlan(plan, testCase);
      expect(planBusMs(plan, testCase.model), `case ${n}: ${JSON.stringify(testCase)}`).toBeCloseTo(bestOverRunsMs(testCase), 6);
    }
  });

  it('matches the best of all set partitions on 200 random maps of up to 8 spans (runs suffice)', () => {
    const random = seededRandom(0xb05);
    for (let n = 0; n < 200; n++) {
      const testCase = randomCase(random, 8);
      const plan = planReads(testCase.spans, testCase.limits, testCase.model);
      expect(planBusMs(plan, testCase.model), `case ${n}: ${JSON.stringify(testCase)}`).toBeCloseTo(bestOverAllPartitionsMs(testCase), 6);
    }
  });

  it('plans the same requests whatever order the spans come in', () => {
    const random = seededRandom(0x5eed);
    for (let n = 0; n < 100; n++) {
      const testCase = randomCase(random, 12);
      const shuffled = [...testCase.spans];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const ranges = (plan: ReadRequest[], of: RegisterSpan[]) =>
        plan.map((r) => [r.table, r.address, r.count, r.spans.map((i) => of[i]).sort((a, b) => a!.address - b!.address || a!.count - b!.count)]);
      expect(ranges(planReads(shuffled, testCase.limits, testCase.model), shuffled)).toEqual(
        ranges(planReads(testCase.spans, testCase.limits, testCase.model), testCase.spans),
      );
    }
  });
});
