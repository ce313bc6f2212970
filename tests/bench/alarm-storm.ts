/**
 * `npm run bench -- alarm-storm`: what a storm of comm-loss alarms costs the hub's dispatch and
 * how many pages it makes. One site of G gateways × B buses × D devices (10 × 10 × 20 = 2,000 by
 * default) with a team per trade, paging over a webhook to a local HTTP listener that counts the
 * pages. Every device on K buses (all by default) loses comms within a few seconds: one
 * `AlarmDesk.receive` per device, one after another as ingestion applies them, on a fake clock;
 * the jobs due run every 250 ms of that clock (the job loop's poll), and after the storm the
 * clock jumps past the group wait (30 s) and they run until none is left.
 *
 * - **grouped**: the transitions as the agent sends them (`rule_type: 'comm_loss'`): the desk holds
 *   each for the group wait, then raises one `bus_offline` alarm per bus over its devices. A
 *   minute later every device answers again, and the bus alarms must clear.
 * - **naive** (the baseline, same run): the same transitions without `rule_type`, so that every
 *   device's alarm opens its own work order and pages on its own, as with grouping off.
 * - **gateway outage**: the gateways go offline (`gateway_offline` raised, which pages), come
 *   back, and then report their devices' comm-loss alarms with times inside the outage: each goes
 *   under its gateway's alarm, so pages = gateways.
 *
 * Each scenario runs on PGlite (in memory, as the hub embeds it) and on a throw-away PostgreSQL
 * server, each run on a fresh database. Times are wall-clock; the fake clock only stands in for
 * the group wait, which a live hub adds to the grouped path in real time. What the desk did is
 * checked (pages, grouping, duplicates, jobs left or failed): `CHECK FAILED: …` and exit code 1.
 *
 * Knobs: BENCH_GATEWAYS (10), BENCH_BUSES per gateway (10), BENCH_DEVICES per bus (20),
 * BENCH_FAILED_BUSES (all), BENCH_STORM_MS over which the devices are lost (5,000),
 * BENCH_OUTAGE_GATEWAYS (all), BENCH_RUNS of each scenario on each database (1; figures are
 * medians), BENCH_DATABASES (`pglite,postgres`). Ends with one line holding a JSON object.
 */
import { performance } from 'node:perf_hooks';
import { capturedLogger } from '../support/log-capture.js';
import { startHttpListener, type HttpListener } from '../support/http-listener.js';
import { DATABASES, Databases, GROUP_WAIT_MS, outcome, runDueJobs, stormHub, type Database, type StormHub } from './alarm-storm/hub.js';
import { commLoss, devicesOf, gatewayName, gatewayOffline, setUpSite, busName, type Device } from './alarm-storm/site.js';

const knob = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of at least 1, not ${process.env[name]}`);
  return value;
};
const SHAPE = { gateways: knob('BENCH_GATEWAYS', 10), busesPerGateway: knob('BENCH_BUSES', 10), devicesPerBus: knob('BENCH_DEVICES', 20) };
const FAILED_BUSES = Math.min(knob('BENCH_FAILED_BUSES', SHAPE.gateways * SHAPE.busesPerGateway), SHAPE.gateways * SHAPE.busesPerGateway);
const STORM_MS = knob('BENCH_STORM_MS', 5_000);
const OUTAGE_GATEWAYS = Math.min(knob('BENCH_OUTAGE_GATEWAYS', SHAPE.gateways), SHAPE.gateways);
const RUNS = knob('BENCH_RUNS', 1);
const DATABASES_RUN = (process.env.BENCH_DATABASES ?? DATABASES.join(',')).split(',').map((name) => {
  if (!(DATABASES as readonly string[]).includes(name)) throw new Error(`BENCH_DATABASES: ${name} is not one of ${DATABASES.join(', ')}`);
  return name as Database;
});
/** The technicians at home: 02:00 on a Monday in the site's zone (Asia/Shanghai, site.ts). */
const START = Date.parse('2026-11-22T18:00:00Z');
const OUTAGE_MS = 5 * 60_000;

const devices = devicesOf(SHAPE);

/**
 * The devices of the failed buses in the order their comm-loss alarms arrive: the buses fail
 * together, and each gateway gives up on their devices one poll slot after another. The failed
 * buses are spread over the gateways (bus k is on gateway k mod G).
 */
function stormOrder(): Device[] {
  const failed = new Set(Array.from({ length: FAILED_BUSES }, (_, k) => `${gatewayName(k % SHAPE.gateways)}/${busName(Math.floor(k / SHAPE.gateways))}`));
  const onFailedBus = devices.filter((device) => failed.has(`${device.gateway}/${device.bus}`));
  return onFailedBus.sort((a, b) => a.slot - b.slot);
}
const storming = stormOrder();

interface Pager {
  listener: HttpListener;
  /** performance.now() of each page's arrival. */
  arrivals: number[];
}

async function startPager(): Promise<Pager> {
  const arrivals: number[] = [];
  const listener = await startHttpListener(() => {
    arrivals.push(performance.now());
    return { status: 200, body: '' };
  });
  return { listener, arrivals };
}

interface ReceiveFigures {
  transitions: number;
  /** The time spent in `receive`, the jobs run meanwhile left out. */
  receive_s: number;
  transitions_per_s: number;
  receive_p50_ms: number;
  receive_p99_ms: number;
}

/** How often the hub's job loop looks for due jobs (the queue's default `pollMs`). */
const POLL_MS = 250;
type Transition = { at: number; input: Parameters<StormHub['desk']['receive']>[0] };

/**
 * Applies the transitions one after another, the hub's clock at each one's time, and times each;
 * whenever the clock has moved a poll interval, runs the jobs then due, as the hub's job loop
 * would between them (the naive orders' pages leave during the storm; a storm longer than the
 * group wait has its first devices grouped before the last are lost). Returns the figures and
 * how many jobs ran.
 */
async function receiveAll(hub: StormHub, transitions: readonly Transition[]): Promise<ReceiveFigures & { jobsRun: number }> {
  const samples: number[] = [];
  let jobsRun = 0;
  let polled = transitions[0]?.at ?? 0;
  for (const { at, input } of transitions) {
    hub.clock.now = at;
    if (at - polled >= POLL_MS) {
      jobsRun += await runDueJobs(hub);
      polled = at;
    }
    const started = performance.now();
    await hub.desk.receive(input);
    samples.push(performance.now() - started);
  }
  const seconds = samples.reduce((sum, ms) => sum + ms, 0) / 1000;
  return {
    transitions: transitions.length,
    receive_s: round(seconds, 2),
    transitions_per_s: Math.round(transitions.length / seconds),
    receive_p50_ms: round(percentile(samples, 50), 2),
    receive_p99_ms: round(percentile(samples, 99), 2),
    jobsRun,
  };
}

/** What the listener was sent: pages, distinct page ids, pages per recipient. */
function pagesOf(pager: Pager, since = 0) {
  const bodies = pager.listener.requests.slice(since).map((request) => JSON.parse(request.body) as { page: { id: string }; recipient: { name: string } });
  const byTeam: Record<string, number> = {};
  for (const body of bodies) {
    const team = body.recipient.name.replace(/ technician$/, '');
    byTeam[team] = (byTeam[team] ?? 0) + 1;
  }
  return { pages: bodies.length, duplicates: bodies.length - new Set(bodies.map((body) => body.page.id)).size, byTeam };
}

interface Run {
  db: Awaited<ReturnType<Databases['open']>>;
  hub: StormHub;
  pager: Pager;
  warnings: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** A fresh database with the site set up on it, the desk over it, and a pager to count pages. */
async function freshRun(databases: Databases, database: Database): Promise<Run> {
  const db = await databases.open(database);
  const pager = await startPager();
  const { log, lines } = capturedLogger();
  // The desk logs every transition at info; a live hub's info lines go to stdout, not kept here.
  log.level = 'warn';
  const hub = stormHub(db, `${pager.listener.url}/pages`, START, log);
  await setUpSite(hub.oncall, hub.registry, devices, START);
  return {
    db,
    hub,
    pager,
    warnings: lines,
    close: async () => {
      await pager.listener.close();
      await db.close();
    },
  };
}

type StormFigures = ReceiveFigures & {
  /** Wall time in the jobs (group, escalation step, page), during the storm and after it. */
  dispatch_s: number;
  first_transition_to_last_page_s: number | null;
  /** Until every job that came due has run: the grouped storm's tail is the members' group jobs. */
  first_transition_to_jobs_done_s: number;
  jobs_run: number;
  pages: number;
  duplicate_pages: number;
  orders: number;
  grouped: number;
  bus_alarms: number;
  group_smallest: number | null;
  group_largest: number | null;
  paging_alone: number;
  grouped_notes_on_orders: number;
  jobs_unfinished: number;
  jobs_failed: number;
  warnings: number;
  pages_by_team: Record<string, number>;
  /** Grouped only: every device answers again, one clear each, and the bus alarms should clear. */
  recovery_transitions_per_s: number | null;
  recovery_p99_ms: number | null;
  bus_alarms_left_active: number | null;
};

/** The storm, grouped or not: receive, jump past the group wait, run the jobs, count. */
async function storm(databases: Databases, database: Database, grouping: boolean): Promise<StormFigures> {
  const run = await freshRun(databases, database);
  try {
    const { hub, pager } = run;
    const transitions = storming.map((device, index) => {
      const at = START + Math.round((index * STORM_MS) / storming.length);
      return { at, input: commLoss(device, at, grouping) };
    });
    const began = performance.now();
    const { jobsRun: duringStorm, ...received } = await receiveAll(hub, transitions);
    // What is due at the storm's end, then, the clock past the group wait, the rest.
    let jobsRun = duringStorm + (await runDueJobs(hub));
    hub.clock.now = transitions.at(-1)!.at + GROUP_WAIT_MS + 1_000;
    jobsRun += await runDueJobs(hub);
    const ended = performance.now();
    const sent = pagesOf(pager);
    const left = await outcome(run.db);
    const recovery = grouping ? await recover(hub) : undefined;
    return {
      ...received,
      dispatch_s: round((ended - began) / 1000 - received.receive_s, 2),
      first_transition_to_last_page_s: pager.arrivals.length ? round((Math.max(...pager.arrivals) - began) / 1000, 2) : null,
      first_transition_to_jobs_done_s: round((ended - began) / 1000, 2),
      jobs_run: jobsRun,
      pages: sent.pages,
      duplicate_pages: sent.duplicates,
      orders: left.orders,
      grouped: left.grouped,
      bus_alarms: left.busAlarms,
      group_smallest: left.groupSmallest,
      group_largest: left.groupLargest,
      paging_alone: left.alone,
      grouped_notes_on_orders: left.groupedNotes,
      jobs_unfinished: left.jobsUnfinished,
      jobs_failed: left.jobsFailed + left.pagesNotDelivered,
      warnings: run.warnings.length,
      pages_by_team: sent.byTeam,
      recovery_transitions_per_s: recovery?.transitions_per_s ?? null,
      recovery_p99_ms: recovery?.receive_p99_ms ?? null,
      bus_alarms_left_active: recovery?.busAlarmsLeftActive ?? null,
    };
  } finally {
    for (const line of run.warnings.slice(0, 3)) log(`  ${database} desk warned: ${JSON.stringify(line)}`);
    await run.close();
  }
}

/**
 * A minute after the grouped storm's pages, every device answers again in the order it was lost:
 * each clear releases its bus's alarm once no device under it is active.
 */
async function recover(hub: StormHub): Promise<ReceiveFigures & { busAlarmsLeftActive: number }> {
  const back = hub.clock.now + 60_000;
  const transitions = storming.map((device, index) => {
    const at = back + Math.round((index * STORM_MS) / storming.length);
    return { at, input: commLoss(device, at, true, 'cleared') };
  });
  const { jobsRun: _, ...received } = await receiveAll(hub, transitions);
  await runDueJobs(hub);
  const [row] = await hub.db.query<{ n: number }>(`select count(*)::int as n from alarms where rule = 'bus_offline' and state = 'active'`);
  return { ...received, busAlarmsLeftActive: row?.n ?? 0 };
}

type OutageFigures = ReceiveFigures & {
  gateways: number;
  gateway_pages: number;
  pages_after_reconnect: number;
  pages: number;
  duplicate_pages: number;
  orders: number;
  grouped: number;
  paging_alone: number;
  grouped_notes_on_orders: number;
  dispatch_s: number;
  jobs_unfinished: number;
  warnings: number;
};

/**
 * Gateways lose their connection (their Last Wills raise `gateway_offline`, which pages), come
 * back five minutes later, and only then report that their devices were lost 20 s into the
 * outage: the comm-loss alarms go under the gateways' alarms, which paged already.
 */
async function gatewayOutage(databases: Databases, database: Database): Promise<OutageFigures> {
  const run = await freshRun(databases, database);
  try {
    const { hub, pager } = run;
    const gateways = Array.from({ length: OUTAGE_GATEWAYS }, (_, g) => gatewayName(g));
    for (const [index, gateway] of gateways.entries()) {
      hub.clock.now = START + index * 100;
      await hub.desk.receive(gatewayOffline(gateway, 'raised', hub.clock.now));
    }
    await runDueJobs(hub);
    const gatewayPages = pager.listener.requests.length;
    const back = START + OUTAGE_MS;
    for (const [index, gateway] of gateways.entries()) {
      hub.clock.now = back + index * 100;
      await hub.desk.receive(gatewayOffline(gateway, 'cleared', hub.clock.now));
    }
    const lost = devices.filter((device) => gateways.includes(device.gateway));
    const reported = back + gateways.length * 100;
    const transitions = lost.map((device, index) => {
      const offset = Math.round((index * STORM_MS) / lost.length);
      return { at: reported + offset, input: commLoss(device, START + 20_000 + offset, true) };
    });
    const began = performance.now();
    const { jobsRun: _, ...received } = await receiveAll(hub, transitions);
    await runDueJobs(hub);
    hub.clock.now = transitions.at(-1)!.at + GROUP_WAIT_MS + 1_000;
    await runDueJobs(hub);
    const dispatchS = round((performance.now() - began) / 1000 - received.receive_s, 2);
    const sent = pagesOf(pager);
    const left = await outcome(run.db);
    return {
      ...received,
      gateways: gateways.length,
      gateway_pages: gatewayPages,
      pages_after_reconnect: sent.pages - gatewayPages,
      pages: sent.pages,
      duplicate_pages: sent.duplicates,
      orders: left.orders,
      grouped: left.grouped,
      paging_alone: left.alone,
      grouped_notes_on_orders: left.groupedNotes,
      dispatch_s: dispatchS,
      jobs_unfinished: left.jobsUnfinished,
      warnings: run.warnings.length,
    };
  } finally {
    for (const line of run.warnings.slice(0, 3)) log(`  ${database} desk warned: ${JSON.stringify(line)}`);
    await run.close();
  }
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const round = (value: number, digits = 0) => Number(value.toFixed(digits));
const log = (message: string) => process.stdout.write(`${message}\n`);

/** Each numeric figure the median of the runs (null where a run had none); the rest from the first run. */
function medianOf<T extends object>(runs: T[]): T {
  const first = runs[0]!;
  return Object.fromEntries(
    Object.entries(first).map(([key, value]) => {
      if (typeof value !== 'number') return [key, value];
      const numbers = runs.map((run) => (run as Record<string, unknown>)[key]).filter((n): n is number => typeof n === 'number');
      return [key, numbers.length ? round(median(numbers), 2) : null];
    }),
  ) as T;
}

const describeStorm = (database: Database, mode: string, f: StormFigures) =>
  `${database.padEnd(8)} ${mode.padEnd(7)} ${f.transitions} transitions in ${f.receive_s} s (${f.transitions_per_s}/s, p50 ${f.receive_p50_ms} ms, p99 ${f.receive_p99_ms} ms); ` +
  `jobs ${f.jobs_run} in ${f.dispatch_s} s; ${f.pages} pages, ${f.orders} orders, ${f.grouped} grouped under ${f.bus_alarms} bus alarms; ` +
  `last page ${f.first_transition_to_last_page_s} s after the first transition, last job ${f.first_transition_to_jobs_done_s} s` +
  (f.recovery_transitions_per_s === null ? '' : `; recovery ${f.recovery_transitions_per_s} clears/s (p99 ${f.recovery_p99_ms} ms), ${f.bus_alarms_left_active} bus alarms left active`);

async function main(): Promise<void> {
  const wallStarted = performance.now();
  log(
    `alarm-storm: ${devices.length} devices (${SHAPE.gateways} gateways × ${SHAPE.busesPerGateway} buses × ${SHAPE.devicesPerBus}); ` +
      `${storming.length} on ${FAILED_BUSES} failed buses lose comms over ${STORM_MS} ms; group wait ${GROUP_WAIT_MS} ms; ` +
      `${RUNS} run(s) of each scenario on ${DATABASES_RUN.join(' and ')}`,
  );
  const databases = new Databases();
  const results = new Map<Database, { grouped: StormFigures[]; naive: StormFigures[]; outage: OutageFigures[] }>(
    DATABASES_RUN.map((database) => [database, { grouped: [], naive: [], outage: [] }]),
  );
  try {
    for (let index = 0; index < RUNS; index++) {
      for (const database of DATABASES_RUN) {
        const into = results.get(database)!;
        // Which of the two goes first alternates, so that neither always has the warmer machine.
        const modes = index % 2 === 0 ? ([true, false] as const) : ([false, true] as const);
        for (const grouping of modes) {
          const figures = await storm(databases, database, grouping);
          (grouping ? into.grouped : into.naive).push(figures);
          log(describeStorm(database, grouping ? 'grouped' : 'naive', figures));
        }
        const outage = await gatewayOutage(databases, database);
        into.outage.push(outage);
        log(
          `${database.padEnd(8)} outage  ${outage.gateways} gateways: ${outage.gateway_pages} pages for them; ${outage.transitions} comm-loss alarms after reconnect in ` +
            `${outage.receive_s} s (${outage.transitions_per_s}/s, p99 ${outage.receive_p99_ms} ms), ${outage.grouped} grouped, ${outage.pages_after_reconnect} more pages`,
        );
      }
    }
    const postgresVersion = await databases.postgresVersion();

    const problems: string[] = [];
    const perDatabase = Object.fromEntries(
      [...results].map(([database, runs]) => {
        const grouped = medianOf(runs.grouped);
        const naive = medianOf(runs.naive);
        const outage = medianOf(runs.outage);
        const expect = (what: string, actual: number | null, wanted: number) => {
          if (actual !== wanted) problems.push(`${database} ${what}: ${actual} (expected ${wanted})`);
        };
        for (const [mode, list] of [['grouped', runs.grouped], ['naive', runs.naive]] as const) {
          for (const f of list) {
            expect(`${mode} duplicate pages`, f.duplicate_pages, 0);
            expect(`${mode} jobs left unfinished`, f.jobs_unfinished, 0);
            expect(`${mode} jobs or pages failed`, f.jobs_failed, 0);
          }
        }
        for (const f of runs.grouped) {
          // A bus whose devices all fail is one alarm, one order, one page (a bus of one device pages as that device).
          expect('grouped pages', f.pages, SHAPE.devicesPerBus > 1 ? FAILED_BUSES : storming.length);
          if (SHAPE.devicesPerBus > 1) expect('grouped devices', f.grouped, storming.length);
          expect('bus alarms still active after every device answered again', f.bus_alarms_left_active, 0);
        }
        for (const f of runs.naive) expect('naive pages', f.pages, storming.length);
        for (const f of runs.outage) {
          expect('outage pages', f.pages, OUTAGE_GATEWAYS);
          expect('outage devices grouped', f.grouped, f.transitions);
        }
        const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? round(a / b, 2) : null);
        return [
          database,
          {
            grouped,
            naive,
            gateway_outage: outage,
            pages_naive_over_grouped: ratio(naive.pages, grouped.pages),
            orders_naive_over_grouped: ratio(naive.orders, grouped.orders),
            time_naive_over_grouped: ratio(naive.first_transition_to_last_page_s, grouped.first_transition_to_last_page_s),
            receive_rate_grouped_over_naive: ratio(grouped.transitions_per_s, naive.transitions_per_s),
            grouped_runs_s: runs.grouped.map((f) => f.first_transition_to_last_page_s),
            naive_runs_s: runs.naive.map((f) => f.first_transition_to_last_page_s),
          },
        ];
      }),
    );
    for (const problem of problems) log(`CHECK FAILED: ${problem}`);
    if (problems.length > 0) process.exitCode = 1;
    log(
      JSON.stringify({
        benchmark: 'alarm-storm',
        gateways: SHAPE.gateways,
        buses_per_gateway: SHAPE.busesPerGateway,
        devices_per_bus: SHAPE.devicesPerBus,
        devices: devices.length,
        failed_buses: FAILED_BUSES,
        storm_devices: storming.length,
        storm_ms: STORM_MS,
        group_wait_ms: GROUP_WAIT_MS,
        runs: RUNS,
        ...(postgresVersion ? { postgres_version: postgresVersion } : {}),
        ...perDatabase,
        checks_failed: problems.length,
        wall_s: round((performance.now() - wallStarted) / 1000, 1),
      }),
    );
  } finally {
    await databases.close();
  }
}

await main();
