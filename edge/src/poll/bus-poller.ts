import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  interFrameSilenceMs,
  ModbusClient,
  unreadableGaps,
  type ModbusResult,
  type ModbusTable,
  type ModbusWrite,
  type Reading,
} from '@gatehouse/protocols';
import { decodePlannedRead, planProfileReads, type DeviceProfile, type PlannedRead } from '@gatehouse/devices';
import type { BusConfig, DeviceConfig } from '../config/schema.js';
import { connectionsOf, serialLineOf, transportOf } from './bus-transport.js';
import { CommState, type CommChange } from './comm-state.js';
import type { LearnedGaps } from './learned-gaps.js';
import { TokenBucket } from '../token-bucket.js';
import { Signal } from './signal.js';

export interface PolledDevice {
  config: DeviceConfig;
  profile: DeviceProfile;
}

export interface PollSink {
  readings(readings: Reading[]): void;
  commChanged(device: string, change: CommChange): void;
}

interface DeviceState extends PolledDevice {
  plan: PlannedRead[];
  comm: CommState;
  nextDue: number;
  busy: boolean;
  /** The wait before the next probe while offline; doubles after each failed probe. */
  probeIntervalMs: number;
  /** The last partial failure logged, so that a persistent one is logged once. */
  lastWarning: string | undefined;
}

const ILLEGAL_DATA_ADDRESS = 0x02;
/**
 * A gateway's "path unavailable" (0x0A) and "target device failed to respond" (0x0B) come from
 * the gateway, not the device: the device did not answer, and counts as silent.
 */
const GATEWAY_EXCEPTIONS: ReadonlySet<number> = new Set([0x0a, 0x0b]);

/**
 * The next due time after `now` on the device's fixed grid of intervals. Cycles stay on the grid
 * (no drift from poll durations); a cycle missed because the bus was busy is skipped, not queued.
 * An interval of 0 polls again as soon as the bus is free.
 */
export function nextSlot(previousDue: number, intervalMs: number, now: number): number {
  if (intervalMs === 0) return now;
  const next = previousDue + intervalMs;
  return next > now ? next : now + intervalMs - ((now - previousDue) % intervalMs);
}

function describeRead(read: PlannedRead): string {
  const { table, address, count } = read.request;
  return `${table} ${address}+${count}`;
}

/**
 * Waits until `deadline` on the performance clock. Node's timers count whole milliseconds and
 * fire late (a 4.01 ms timer waits 4.4 to 5 ms), which at 9600 baud is a tenth of a silence lost
 * per transaction: the timer stops a millisecond short and setImmediate turns cover the rest.
 */
async function waitUntil(deadline: number): Promise<void> {
  const left = deadline - performance.now();
  if (left >= 2) await sleep(Math.floor(left) - 1);
  while (performance.now() < deadline) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** What a job on the bus may do: transactions with one unit, each followed by the line's silence. */
export interface BusTransactions {
  read(table: ModbusTable, address: number, count: number): Promise<ModbusResult<number[] | boolean[]>>;
  write(write: ModbusWrite): Promise<ModbusResult<void>>;
}

interface BusJob {
  run(client: ModbusClient): Promise<void>;
  cancel(reason: Error): void;
}

export interface BusPollerOptions {
  bus: BusConfig;
  devices: readonly PolledDevice[];
  sink: PollSink;
  log: Logger;
  learned: LearnedGaps;
  now?: () => number;
}

/**
 * Polls the devices of one bus. A serial line (or a device server in front of one) carries one
 * transaction at a time, separated by the line's 3.5-character silence and nothing else; a
 * Modbus TCP endpoint may carry `max_concurrent` at once, one connection each. Each device is
 * polled on its own interval. A device that stops answering goes offline after a run of failures
 * and is then only probed, with backoff, within a small share of the bus's time, so that a dead
 * meter cannot starve the lift controller on the same line.
 */
export class BusPoller {
  private readonly devices: DeviceState[];
  private readonly clients: ModbusClient[];
  private readonly silenceMs: number;
  /** When the silence after the line's last frame ends (performance clock): no request before. */
  private lineFreeAt = 0;
  /** Bus milliseconds for probing offline devices: at most `probe_share` of the bus's time. */
  private readonly budget: TokenBucket;
  private readonly released = new Signal();
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private workers: Array<Promise<void>> = [];
  private readonly jobs: BusJob[] = [];

  constructor(private readonly options: BusPollerOptions) {
    const { bus } = options;
    if (bus.transport === 'opcua') throw new Error(`bus "${bus.id}" is an OPC UA server: the OPC UA client serves it, not a poller`);
    this.now = options.now ?? Date.now;
    const line = serialLineOf(bus);
    this.silenceMs = line ? interFrameSilenceMs(line) : 0;
    this.clients = Array.from(
      { length: connectionsOf(bus) },
      () => new ModbusClient({ transport: transportOf(bus), timeoutMs: bus.timeout_ms }),
    );
    const start = this.now();
    this.budget = new TokenBucket(bus.probe_share, 2 * bus.timeout_ms, start);
    this.devices = options.devices.map((device) => ({
      ...device,
      plan: this.planFor(device),
      comm: new CommState(device.config.offline_after_failures),
      nextDue: start,
      busy: false,
      probeIntervalMs: 0,
      lastWarning: undefined,
    }));
  }

  private planFor(device: PolledDevice): PlannedRead[] {
    const line = serialLineOf(this.options.bus);
    return planProfileReads(device.profile, {
      model: { ...(line ? { line } : {}), turnaroundMs: device.config.turnaround_ms },
      unreadable: this.options.learned.get(device.config.id, device.profile.id),
    });
  }

  commSnapshot(device: string) {
    return this.devices.find((d) => d.config.id === device)?.comm.snapshot();
  }

  start(): void {
    this.workers = this.clients.map((client) => this.work(client));
  }

  /**
   * Runs `job` (a command's write, a read of an event buffer) on the bus between two polls, ahead
   * of the next due poll: the bus carries it as one of its own transactions, never beside one.
   */
  enqueue<T>(unit: number, job: (bus: BusTransactions) => Promise<T>): Promise<T> {
    if (this.abort.signal.aborted) return Promise.reject(new Error(`bus "${this.options.bus.id}" is stopped`));
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({ run: (client) => job(this.transactionsFor(client, unit)).then(resolve, reject), cancel: reject });
      this.released.notify();
    });
  }

  private transactionsFor(client: ModbusClient, unit: number): BusTransactions {
    // Modbus over Serial Line V1.02 §2.5.1.1: frames are separated by 3.5 character times.
    const silent = async <R>(result: R): Promise<R> => {
      if (this.silenceMs > 0) await sleep(this.silenceMs);
      return result;
    };
    return {
      read: async (table, address, count) => silent(await client.read(unit, table, address, count)),
      write: async (write) => silent(await client.write(unit, write)),
    };
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.released.notify();
    await Promise.all(this.workers);
    for (const job of this.jobs.splice(0)) job.cancel(new Error(`bus "${this.options.bus.id}" is stopped`));
    await Promise.all(this.clients.map((client) => client.close()));
  }

  /** Waits up to `ms`, or until a device is released; false once the poller is stopping. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await Promise.race([sleep(ms, undefined, { signal: this.abort.signal }), this.released.next()]);
    } catch {
      return false;
    }
    return !this.abort.signal.aborted;
  }

  private async work(client: ModbusClient): Promise<void> {
    while (!this.abort.signal.aborted) {
      const job = this.jobs.shift();
      if (job) {
        await job.run(client);
        continue;
      }
      const free = this.devices.filter((device) => !device.busy);
      if (free.length === 0) {
        await this.released.next();
        continue;
      }
      const device = free.reduce((a, b) => (b.nextDue < a.nextDue ? b : a));
      const wait = device.nextDue - this.now();
      if (wait > 0) {
        if (!(await this.pause(wait))) return;
        continue;
      }
      device.busy = true;
      try {
        if (device.comm.isOffline) await this.probe(client, device);
        else await this.poll(client, device);
      } finally {
        device.busy = false;
        this.released.notify();
      }
    }
  }

  /** One transaction, after the line's silence, retried when no valid answer came. */
  private async transact(client: ModbusClient, device: DeviceState, read: PlannedRead, retries: number) {
    const { table, address, count } = read.request;
    let result: ModbusResult<number[] | boolean[]>;
    for (let attempt = 0; ; attempt++) {
      // Modbus over Serial Line V1.02 §2.5.1.1: frames are separated by 3.5 character times,
      // counted from the end of the answer, so that decoding and scheduling happen inside them.
      if (this.silenceMs > 0) await waitUntil(this.lineFreeAt);
      // The config's validation gives every device on a Modbus bus a unit id.
      result = await client.read(device.config.unit!, table, address, count);
      this.lineFreeAt = performance.now() + this.silenceMs;
      const definitive = result.ok || result.failure.kind === 'exception' || result.failure.kind === 'connection';
      if (definitive || attempt >= retries) return result;
    }
  }

  private async poll(client: ModbusClient, device: DeviceState): Promise<void> {
    const id = device.config.id;
    const readings: Reading[] = [];
    const done = new Set<string>();
    const problems: string[] = [];
    let answered = false;
    let silent: string | undefined;
    for (let index = 0; index < device.plan.length; index++) {
      const read = device.plan[index]!;
      if (read.points.every((point) => done.has(point.point))) continue;
      const result = await this.transact(client, device, read, device.config.retries);
      const ts = this.now();
      if (result.ok) {
        answered = true;
        for (const decoded of decodePlannedRead(read, result.value)) {
          done.add(decoded.point);
          if ('value' in decoded) readings.push({ device: id, point: decoded.point, ts, value: decoded.value, quality: 'good' });
          else {
            readings.push({ device: id, point: decoded.point, ts, value: null, quality: 'bad' });
            problems.push(`${decoded.point}: ${decoded.error}`);
          }
        }
        continue;
      }
      const { failure } = result;
      if (failure.kind !== 'exception' || GATEWAY_EXCEPTIONS.has(failure.exception ?? 0)) {
        // No valid answer even after retries: the device, or the line to it, is not answering.
        silent = `${describeRead(read)}: ${failure.message}`;
        break;
      }
      answered = true;
      if (failure.exception === ILLEGAL_DATA_ADDRESS && this.learnGaps(device, read)) {
        index = -1; // start over on the new plan; points already read are skipped
        continue;
      }
      problems.push(`${describeRead(read)}: ${failure.message}`);
      for (const point of read.points) {
        done.add(point.point);
        readings.push({ device: id, point: point.point, ts, value: null, quality: 'bad' });
      }
    }
    this.warnOnce(device, problems.join('; ') || undefined);
    const at = this.now();
    const change = answered ? device.comm.succeeded(at) : device.comm.failed(at, silent ?? 'no answer');
    if (change?.to === 'offline') {
      // The points' last values are no longer true: say so once, when the outage is declared.
      for (const point of device.profile.points) readings.push({ device: id, point: point.point, ts: at, value: null, quality: 'bad' });
      device.probeIntervalMs = Math.max(device.config.poll_interval_ms, this.options.bus.timeout_ms);
      device.nextDue = at + device.probeIntervalMs;
    } else {
      device.nextDue = nextSlot(device.nextDue, device.config.poll_interval_ms, at);
    }
    if (change) this.options.sink.commChanged(id, change);
    if (readings.length > 0) this.options.sink.readings(readings);
  }

  /**
   * A merged request answered "illegal data address": the gaps it read between its points are
   * the suspects. Marks them unreadable, re-plans, and reports whether there was anything to learn.
   */
  private learnGaps(device: DeviceState, read: PlannedRead): boolean {
    const gaps = unreadableGaps({ ...read.request, spans: read.points.map((_, i) => i) }, read.points);
    if (gaps.length === 0) return false;
    this.options.learned.add(device.config.id, device.profile.id, gaps);
    device.plan = this.planFor(device);
    this.options.log.info(
      { device: device.config.id, refused: describeRead(read), requests: device.plan.length },
      'device refused a merged read; re-planned around the gap',
    );
    return true;
  }

  private warnOnce(device: DeviceState, warning: string | undefined): void {
    if (warning !== undefined && warning !== device.lastWarning) {
      this.options.log.warn({ device: device.config.id, problems: warning }, 'device answered with errors');
    }
    device.lastWarning = warning;
  }

  /** One short request to an offline device, within the bus's probe budget. */
  private async probe(client: ModbusClient, device: DeviceState): Promise<void> {
    const timeout = this.options.bus.timeout_ms;
    const grant = this.budget.take(timeout, this.now());
    if (!grant.granted) {
      device.nextDue = this.now() + grant.waitMs;
      return;
    }
    const started = this.now();
    const smallest = device.plan.reduce((a, b) => (b.request.count < a.request.count ? b : a));
    const result = await this.transact(client, device, smallest, 0);
    const at = this.now();
    this.budget.refund(timeout - (at - started));
    if (result.ok || (result.failure.kind === 'exception' && !GATEWAY_EXCEPTIONS.has(result.failure.exception ?? 0))) {
      const change = device.comm.succeeded(at);
      if (change) this.options.sink.commChanged(device.config.id, change);
      device.nextDue = at; // back online: a full poll straight away
      return;
    }
    device.comm.failed(at, `${describeRead(smallest)}: ${result.failure.message}`);
    device.probeIntervalMs = Math.min(device.probeIntervalMs * 2, device.config.max_probe_interval_ms);
    device.nextDue = at + device.probeIntervalMs;
  }
}
