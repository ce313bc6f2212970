/**
 * `npm run bench -- modbus-bus`: 32 simulated meters of 40 points each (three register maps, with
 * reserved gaps) on one wire-timed 9600-baud RS-485 line, polled by the agent's bus scheduler
 * (`BusPoller`), then by the peer, Node-RED with node-red-contrib-modbus, on a fresh line with the
 * same simulator. Ends with one line holding a JSON object of the figures.
 *
 * - plan_bus_ms: the bus time per cycle of the agent's plans (`planProfileReads`, as BusPoller
 *   plans, costed by `planBusMs`); optimum_bus_ms: the same for the optimal plans, found by a
 *   search that does not use the planner (modbus-bus/optimum.ts).
 * - efficiency: per cycle, the modelled bus time of the transactions the line actually carried
 *   (frames, the two t3.5 silences and the turnaround of each) over the cycle's measured length;
 *   the median over the measured cycles. Cycles are read off the simulator's log of the requests
 *   it executed (modbus-bus/cycles.ts), the same yardstick for both sides.
 * - dead_cycle_growth: the median cycle with 4 of the 32 meters silent, after the agent has taken
 *   them offline, over the median healthy cycle. With 4 meters fewer to read a cycle has less
 *   work, so dead_cycle_growth_per_live_work says the same per unit of live work.
 * - silence_ms: the median time from an answer's due time to the next request, an upper bound on
 *   the silence the master leaves (Modbus over Serial Line asks for t3.5 = 4.01 ms here).
 * - peer_*: the same for Node-RED. Its inject repeats faster than the line can carry its reads, so
 *   that its queue never runs dry and its cycles measure its pace, not its poll interval. With dead
 *   meters its rounds are not whole (modbus-bus/node-red.ts), so peer_dead_cycle_ms is the time it
 *   took per round's worth of live reads, counted over a window.
 *
 * The simulator answers each request after the whole transaction's wire time (round-trip delay),
 * so a master that wastes no time between transactions reaches an efficiency of 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  interFrameSilenceMs,
  planBusMs,
  requestBusMs,
  type Reading,
  type RegisterValue,
  type RequestCostModel,
  type SerialLine,
} from '@gatehouse/protocols';
import { planProfileReads, startPtyPair, startRtuSlave, type RtuSlave } from '@gatehouse/devices';
import { AgentConfig, BusPoller, LearnedGaps, type PollSink } from '@gatehouse/edge';
import { capturedLogger } from '../support/log-capture.js';
import { REPO_ROOT } from '../support/paths.js';
import { cyclesOf, median, silencesAfterAnswers, type Cycle } from './modbus-bus/cycles.js';
import { buildMeters, catalogueOnlyIssues, meterMemories, type BenchMeter, type RequestRecord } from './modbus-bus/meters.js';
import { ensureNodeRed, peerFlow, startNodeRed, type PeerRead } from './modbus-bus/node-red.js';
import { optimalBusMs, transactionMs } from './modbus-bus/optimum.js';

/** Modbus over Serial Line's default framing (even parity) at the speed most meter lines run. */
const LINE: SerialLine = { baud: 9600, dataBits: 8, parity: 'even', stopBits: 1 };
const TURNAROUND_MS = 5;
const METERS = 32;
const DEAD_UNITS = [8, 16, 24, 32];
/** Cycles are counted from this unit's first request; it stays alive throughout. */
const MARKER_UNIT = 1;
/** A cycle at this line speed takes about ten seconds: four measured ones keep a run to minutes. */
const CYCLES = Number(process.env.BENCH_CYCLES ?? 4);
/** Cycles thrown away first: the port opening, the first timers, the JIT. */
const WARMUP_CYCLES = 1;
/** BENCH_PEER_DEAD=0 skips the peer's run with dead meters. */
const PEER_DEAD = process.env.BENCH_PEER_DEAD !== '0';
/** The answer timeout an installer gives a 9600-baud line (edge/README.md's example). */
const BUS_TIMEOUT_MS = 500;
const NODE_RED_DIR = join(REPO_ROOT, '.gatehouse', 'bench', 'node-red');

const progress = (line: string) => process.stdout.write(`${line}\n`);
const round = (value: number, digits: number) => Number(value.toFixed(digits));
const ms = (value: number) => `${Math.round(value).toLocaleString('en-GB')} ms`;

/** What to undo, newest first, however the run ends. */
const cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    await cleanups
      .pop()!()
      .catch((error: unknown) => progress(`cleanup: ${String(error)}`));
  }
}

const model: RequestCostModel = { line: LINE, turnaroundMs: TURNAROUND_MS };
const costOf = (registers: number) => transactionMs(LINE, TURNAROUND_MS, registers);
const recordMs = (record: RequestRecord) => costOf(record.count);
/** The simulator's round-trip delay: the whole transaction less the master's closing silence. */
const T35_MS = interFrameSilenceMs(LINE);
const answerDueMs = (record: RequestRecord) => recordMs(record) - T35_MS;

/** The line's silences between an answer and the next request over `cycles` (see cycles.ts). */
function silenceFigures(log: readonly RequestRecord[], cycles: readonly Cycle[]) {
  const last = cycles[cycles.length - 1]!;
  const silences = silencesAfterAnswers(log, { from: cycles[0]!.start, to: last.start + last.elapsedMs }, answerDueMs);
  return { median: median(silences), belowT35: silences.filter((silence) => silence < T35_MS).length / silences.length };
}

/** The benchmark's own cost arithmetic must agree with the planner's, or one of them is wrong. */
function assertCostModelsAgree(): void {
  for (let registers = 1; registers <= 125; registers++) {
    const planner = requestBusMs(model, 'holding', registers);
    if (Math.abs(planner - costOf(registers)) > 1e-9) {
      throw new Error(`requestBusMs (${planner} ms) and the spec's arithmetic (${costOf(registers)} ms) differ for ${registers} registers`);
    }
  }
}

/** How a Node-RED user reads a meter: one read per run of adjacent registers, within its limit. */
function contiguousReads(meter: BenchMeter): PeerRead[] {
  const reads: PeerRead[] = [];
  const max = meter.profile.limits.max_registers_per_request;
  for (const table of ['holding', 'input'] as const) {
    let current: PeerRead | undefined;
    for (const point of meter.points.filter((p) => p.table === table).sort((a, b) => a.address - b.address)) {
      if (current && point.address === current.address + current.count && point.address + point.count - current.address <= max) {
        current.count += point.count;
        continue;
      }
      current = { unit: meter.unit, table, address: point.address, count: point.count };
      reads.push(current);
    }
  }
  return reads;
}

/** Waits until the log holds `needed` whole cycles from `from`, printing each as it closes. */
async function waitForCycles(label: string, log: readonly RequestRecord[], from: number, needed: number, timeoutMs: number): Promise<Cycle[]> {
  const deadline = performance.now() + timeoutMs;
  let shown = 0;
  for (;;) {
    const cycles = cyclesOf(log, { markerUnit: MARKER_UNIT, from, transactionMs: recordMs });
    for (; shown < Math.min(cycles.length, needed); shown++) {
      const cycle = cycles[shown]!;
      progress(
        `${label}: cycle ${shown + 1}/${needed}: ${ms(cycle.elapsedMs)}, ${cycle.requests} requests, ` +
          `bus ${ms(cycle.busMs)}, efficiency ${cycle.efficiency.toFixed(3)}`,
      );
    }
    if (cycles.length >= needed) return cycles.slice(0, needed);
    if (performance.now() > deadline) throw new Error(`${label}: ${cycles.length} of ${needed} cycles in ${ms(timeoutMs)}`);
    await sleep(250);
  }
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms(timeoutMs)} waiting for ${what}`);
    await sleep(100);
  }
}

async function startLine(log: RequestRecord[], meters: readonly BenchMeter[]): Promise<{ path: string; slave: RtuSlave }> {
  const pty = await startPtyPair();
  cleanups.push(() => pty.close());
  const slave = await startRtuSlave({
    units: meterMemories(meters, log),
    line: LINE,
    turnaroundMs: TURNAROUND_MS,
    delay: 'round-trip',
    transport: { kind: 'serial', path: pty.b },
  });
  cleanups.push(() => slave.close());
  return { path: pty.a, slave };
}

interface OursFigures {
  healthy: Cycle[];
  silence: ReturnType<typeof silenceFigures>;
  dead: Cycle[];
  deadProbes: number;
  readingsChecked: number;
  warnings: number;
}

async function runOurs(meters: readonly BenchMeter[], plannedRequests: number, planMs: number): Promise<OursFigures> {
  const log: RequestRecord[] = [];
  const { path, slave } = await startLine(log, meters);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-modbus-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const config = AgentConfig.parse({
    site: 'bench',
    gateway: 'gw-01',
    uplink: { url: 'mqtt://127.0.0.1:1' },
    buses: [
      {
        id: 'riser',
        transport: 'rtu',
        path,
        baud: LINE.baud,
        parity: LINE.parity,
        data_bits: LINE.dataBits,
        stop_bits: LINE.stopBits,
        timeout_ms: BUS_TIMEOUT_MS,
      },
    ],
    devices: meters.map((meter) => ({
      id: meter.id,
      bus: 'riser',
      unit: meter.unit,
      profile: meter.profile.id,
      poll_interval_ms: 0, // as often as the bus allows: the benchmark measures the bus's pace
      turnaround_ms: TURNAROUND_MS,
    })),
  });
  const latest = new Map<string, Reading>();
  const offline = new Set<string>();
  const sink: PollSink = {
    readings: (readings) => readings.forEach((reading) => latest.set(`${reading.device}/${reading.point}`, reading)),
    commChanged: (device, change) => (change.to === 'offline' ? offline.add(device) : offline.delete(device)),
  };
  const capture = capturedLogger();
  const poller = new BusPoller({
    bus: config.buses[0]!,
    devices: config.devices.map((device, i) => ({ config: device, profile: meters[i]!.profile })),
    sink,
    log: capture.log,
    learned: new LearnedGaps(join(dir, 'learned-gaps.json')),
  });
  poller.start();
  cleanups.push(() => poller.stop());

  const cycleBudget = (cycles: number) => (cycles + 3) * planMs * 2 + 30_000;
  progress(`ours: BusPoller on ${path}, ${METERS} meters, ${plannedRequests} planned requests per cycle`);
  const healthy = (await waitForCycles('ours, all alive', log, 0, WARMUP_CYCLES + CYCLES, cycleBudget(WARMUP_CYCLES + CYCLES))).slice(
    WARMUP_CYCLES,
  );

  // Every point of every meter must have been read, and read right, or the timing means nothing.
  let readingsChecked = 0;
  for (const meter of meters) {
    for (const [point, value] of meter.expected) {
      const reading = latest.get(`${meter.id}/${point}`);
      if (reading?.quality !== 'good' || !sameValue(reading.value, value)) {
        throw new Error(`${meter.id} ${point}: read ${JSON.stringify(reading)}, the meter holds ${JSON.stringify(value)}`);
      }
      readingsChecked++;
    }
  }
  progress(`ours: all ${readingsChecked} points read with the values the meters hold`);
  const silence = silenceFigures(log, healthy);

  slave.setFaults(new Map(DEAD_UNITS.map((unit) => [unit, { kind: 'silence' as const }])));
  const deadIds = meters.filter((meter) => DEAD_UNITS.includes(meter.unit)).map((meter) => meter.id);
  progress(`ours: units ${DEAD_UNITS.join(', ')} fall silent; waiting for the agent to take them offline`);
  await until('the silent meters to go offline', () => deadIds.every((id) => offline.has(id)), cycleBudget(6));
  progress(`ours: ${deadIds.join(', ')} offline; measuring the steady state`);
  const from = performance.now();
  const requestsBefore = slave.stats().requests;
  const executedBefore = log.length;
  const dead = (await waitForCycles('ours, 4 dead', log, from, WARMUP_CYCLES + CYCLES, cycleBudget(WARMUP_CYCLES + CYCLES))).slice(
    WARMUP_CYCLES,
  );
  const deadProbes = slave.stats().requests - requestsBefore - (log.length - executedBefore);
  const warnings = capture.lines.filter((line) => Number(line.level) >= 40).length;
  return { healthy, silence, dead, deadProbes, readingsChecked, warnings };
}

function sameValue(read: RegisterValue | null, held: RegisterValue): boolean {
  if (typeof read === 'number' && typeof held === 'number') return Math.abs(read - held) <= 1e-9 * Math.max(1, Math.abs(held));
  return read === held;
}

interface PeerFigures {
  version: string;
  cycles: Cycle[];
  silence: ReturnType<typeof silenceFigures>;
  dead: PeerDeadFigures | undefined;
  repeatSeconds: number;
}

interface PeerDeadFigures {
  /** How long the peer took, per read of every live meter's points, with 4 meters dead. */
  cycleMs: number;
  windowMs: number;
  liveRequests: number;
  /** Requests the peer sent to the dead meters in the window. */
  deadRequests: number;
  /** Live meters the peer did not read once in the window. */
  unreadLiveMeters: number;
}

async function runPeer(meters: readonly BenchMeter[], reads: readonly PeerRead[], peerPlanMs: number): Promise<PeerFigures> {
  const versions = ensureNodeRed(NODE_RED_DIR, progress);
  const version = `node-red ${versions.nodeRed} + node-red-contrib-modbus ${versions.contribModbus}`;
  const log: RequestRecord[] = [];
  const { path, slave } = await startLine(log, meters);
  // Faster than the line can carry a round of reads, so that the queue never runs dry.
  const repeatSeconds = Math.max(1, Math.floor((0.8 * peerPlanMs) / 1000));
  const nodeRed = startNodeRed(NODE_RED_DIR, peerFlow({ serialPort: path, line: LINE, reads, repeatSeconds }));
  cleanups.push(() => nodeRed.stop());
  progress(`peer: ${version} on ${path}, ${reads.length} reads per round, inject every ${repeatSeconds} s`);
  await Promise.race([
    nodeRed.started,
    sleep(60_000).then(() => {
      throw new Error(`Node-RED did not start its flows in 60 s:\n${nodeRed.output()}`);
    }),
  ]);
  progress('peer: Node-RED started its flows');
  const withOutput = (error: unknown) => {
    throw new Error(`${String(error)}\nNode-RED said:\n${nodeRed.output()}`);
  };
  const needed = WARMUP_CYCLES + CYCLES;
  const cycles = (await waitForCycles('peer', log, 0, needed, (needed + 3) * peerPlanMs * 2 + 30_000).catch(withOutput)).slice(
    WARMUP_CYCLES,
  );
  let dead: PeerDeadFigures | undefined;
  if (PEER_DEAD) {
    // Node-RED keeps no state about devices: no offline state, no probing. Its cycles with dead
    // meters are not whole (a timeout makes it reconnect, and what was queued meanwhile is refused),
    // so its pace is taken over a time window: how many rounds of the live meters' reads it did.
    slave.setFaults(new Map(DEAD_UNITS.map((unit) => [unit, { kind: 'silence' as const }])));
    const windowMs = 2 * median(cycles.map((cycle) => cycle.elapsedMs));
    progress(`peer: units ${DEAD_UNITS.join(', ')} fall silent; counting its reads for ${ms(windowMs)}`);
    const from = performance.now();
    const [requestsBefore, executedBefore] = [slave.stats().requests, log.length];
    await sleep(windowMs);
    const executed = log.slice(executedBefore);
    const deadRequests = slave.stats().requests - requestsBefore - executed.length;
    const liveReads = reads.filter((read) => !DEAD_UNITS.includes(read.unit));
    const liveUnits = new Set(liveReads.map((read) => read.unit));
    const elapsed = performance.now() - from;
    dead = {
      cycleMs: executed.length === 0 ? Infinity : (elapsed * liveReads.length) / executed.length,
      windowMs: elapsed,
      liveRequests: executed.length,
      deadRequests,
      unreadLiveMeters: [...liveUnits].filter((unit) => !executed.some((record) => record.unit === unit)).length,
    };
    progress(
      `peer, 4 dead: ${executed.length} live reads (a round is ${liveReads.length}) and ${deadRequests} to the dead meters ` +
        `in ${ms(elapsed)}; ${dead.unreadLiveMeters} live meters not read at all`,
    );
  }
  return { version, cycles, silence: silenceFigures(log, cycles), dead, repeatSeconds };
}

async function main(): Promise<void> {
  const began = performance.now();
  assertCostModelsAgree();
  const meters = buildMeters(METERS);
  for (const profile of new Set(meters.map((meter) => meter.profile))) {
    const { nonCatalogue, otherIssues } = catalogueOnlyIssues(profile);
    if (profile.points.length !== 40 || otherIssues.length > 0) {
      throw new Error(`${profile.id}: ${profile.points.length} points; ${otherIssues.join('; ')}`);
    }
    const limit = profile.limits.max_registers_per_request;
    progress(`map ${profile.id}: 40 points, ${40 - nonCatalogue} of them catalogue points, at most ${limit} registers per read`);
  }

  let planMs = 0;
  let plannedRequests = 0;
  let optimumMs = 0;
  let optimumNodes = 0;
  const peerReads: PeerRead[] = [];
  for (const meter of meters) {
    const plan = planProfileReads(meter.profile, { model }).map((read) => read.request);
    planMs += planBusMs(plan, model);
    plannedRequests += plan.length;
    const optimum = optimalBusMs(meter.points, meter.profile.limits.max_registers_per_request, costOf);
    optimumMs += optimum.busMs;
    optimumNodes += optimum.nodes;
    peerReads.push(...contiguousReads(meter));
  }
  const peerPlanMs = peerReads.reduce((sum, read) => sum + costOf(read.count), 0);
  const planIsOptimal = Math.abs(planMs - optimumMs) <= 1e-9 * optimumMs;
  progress(
    `plan: ${plannedRequests} requests, ${ms(planMs)} of bus per cycle; optimum ${ms(optimumMs)} ` +
      `(${planIsOptimal ? 'equal' : 'DIFFERENT'}); Node-RED's reads: ${peerReads.length}, ${ms(peerPlanMs)}`,
  );

  const ours = await runOurs(meters, plannedRequests, planMs);
  await cleanUp();

  let peer: PeerFigures | undefined;
  let peerError: string | undefined;
  try {
    peer = await runPeer(meters, peerReads, peerPlanMs);
  } catch (error) {
    peerError = error instanceof Error ? error.message : String(error);
    progress(`peer: failed: ${peerError}`);
  } finally {
    await cleanUp();
  }

  const cycleMs = median(ours.healthy.map((c) => c.elapsedMs));
  const deadCycleMs = median(ours.dead.map((c) => c.elapsedMs));
  const efficiency = median(ours.healthy.map((c) => c.efficiency));
  const deadEfficiency = median(ours.dead.map((c) => c.efficiency));
  const peerCycleMs = peer ? median(peer.cycles.map((c) => c.elapsedMs)) : null;
  const peerDeadCycleMs = peer?.dead?.cycleMs ?? null;
  const figures = {
    benchmark: 'modbus-bus',
    meters: METERS,
    points_per_meter: 40,
    line: `${LINE.baud} ${LINE.dataBits}${LINE.parity[0]!.toUpperCase()}${LINE.stopBits}`,
    turnaround_ms: TURNAROUND_MS,
    cycles_measured: CYCLES,
    plan_bus_ms: round(planMs, 3),
    optimum_bus_ms: round(optimumMs, 3),
    plan_is_optimal: planIsOptimal,
    optimum_search_nodes: optimumNodes,
    requests_per_cycle: median(ours.healthy.map((c) => c.requests)),
    planned_requests_per_cycle: plannedRequests,
    cycle_ms: round(cycleMs, 1),
    bus_ms_per_cycle: round(median(ours.healthy.map((c) => c.busMs)), 1),
    efficiency: round(efficiency, 4),
    efficiency_min: round(Math.min(...ours.healthy.map((c) => c.efficiency)), 4),
    readings_checked: ours.readingsChecked,
    // Upper bounds (cycles.ts); Modbus over Serial Line asks for t3.5 between frames.
    t35_ms: round(T35_MS, 3),
    silence_ms: round(ours.silence.median, 2),
    silence_below_t35: round(ours.silence.belowT35, 3),
    dead_units: DEAD_UNITS,
    dead_cycle_ms: round(deadCycleMs, 1),
    dead_cycle_growth: round(deadCycleMs / cycleMs, 4),
    // The same growth per unit of live work: 4 dead meters also leave 4 meters' reads undone.
    dead_cycle_growth_per_live_work: round(efficiency / deadEfficiency, 4),
    dead_efficiency: round(deadEfficiency, 4),
    dead_probes: ours.deadProbes,
    agent_warnings: ours.warnings,
    peer: peer?.version ?? null,
    peer_plan_bus_ms: round(peerPlanMs, 3),
    peer_requests_per_cycle: peer ? median(peer.cycles.map((c) => c.requests)) : null,
    peer_planned_requests_per_cycle: peerReads.length,
    peer_cycle_ms: peerCycleMs === null ? null : round(peerCycleMs, 1),
    peer_bus_ms_per_cycle: peer ? round(median(peer.cycles.map((c) => c.busMs)), 1) : null,
    peer_efficiency: peer ? round(median(peer.cycles.map((c) => c.efficiency)), 4) : null,
    peer_silence_ms: peer ? round(peer.silence.median, 2) : null,
    peer_silence_below_t35: peer ? round(peer.silence.belowT35, 3) : null,
    peer_inject_s: peer?.repeatSeconds ?? null,
    peer_cycle_over_ours: peerCycleMs === null ? null : round(peerCycleMs / cycleMs, 3),
    peer_dead_cycle_ms: peerDeadCycleMs === null ? null : round(peerDeadCycleMs, 1),
    peer_dead_cycle_growth: peerDeadCycleMs === null || peerCycleMs === null ? null : round(peerDeadCycleMs / peerCycleMs, 4),
    peer_dead_window_ms: peer?.dead ? round(peer.dead.windowMs, 0) : null,
    peer_dead_requests_to_dead: peer?.dead?.deadRequests ?? null,
    peer_dead_live_meters_unread: peer?.dead?.unreadLiveMeters ?? null,
    ...(peerError ? { peer_error: peerError.split('\n')[0] } : {}),
    run_s: round((performance.now() - began) / 1000, 1),
  };
  progress('');
  progress(`                     ours        Node-RED`);
  progress(`requests per cycle   ${String(figures.requests_per_cycle).padEnd(12)}${figures.peer_requests_per_cycle ?? '-'}`);
  progress(`bus time per cycle   ${ms(planMs).padEnd(12)}${ms(peerPlanMs)}`);
  progress(`cycle (median)       ${ms(cycleMs).padEnd(12)}${peerCycleMs === null ? '-' : ms(peerCycleMs)}`);
  progress(`efficiency           ${String(figures.efficiency).padEnd(12)}${figures.peer_efficiency ?? '-'}`);
  progress(`silence after answer ${`${figures.silence_ms} ms`.padEnd(12)}${figures.peer_silence_ms ?? '-'} ms  (t3.5 = ${figures.t35_ms} ms)`);
  progress(`dead cycle growth    ${String(figures.dead_cycle_growth).padEnd(12)}${figures.peer_dead_cycle_growth ?? '-'}`);
  progress(JSON.stringify(figures));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`modbus-bus: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
