import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { dlt645, type Reading } from '@gatehouse/protocols';
import { decodeDlt645Point, dlt645PointsOf, type Dlt645Point, type Dlt645Profile } from '@gatehouse/devices';
import type { DeviceConfig, Dlt645BusConfig } from '../config/schema.js';
import { TokenBucket } from '../token-bucket.js';
import { nextSlot, type PollSink } from './bus-poller.js';
import { serialLineOf } from './bus-transport.js';
import { CommState } from './comm-state.js';
import { Dlt645Master, type Dlt645Result, type Dlt645Transport } from './dlt645-master.js';

export interface Dlt645PolledDevice {
  config: DeviceConfig;
  profile: Dlt645Profile;
}

export interface Dlt645BusPollerOptions {
  bus: Dlt645BusConfig;
  devices: readonly Dlt645PolledDevice[];
  sink: PollSink;
  log: Logger;
  now?: () => number;
  /** The line; default a serial master on the bus's port. */
  transport?: Dlt645Transport;
}

interface Meter {
  id: string;
  config: DeviceConfig;
  address: string;
  points: Dlt645Point[];
  comm: CommState;
  nextDue: number;
  /** The wait before the next probe while offline; doubles after each failed probe. */
  probeIntervalMs: number;
  /** The last abnormal answers logged, so that a persistent refusal is logged once. */
  lastProblems: string | undefined;
}

/**
 * What a meter's answer says about one point: a reading, good or bad, and for a bad one the
 * problem by name ("energy_export_kwh: no data requested (error byte 0x02)").
 */
export function pointReading(device: string, point: Dlt645Point, answer: dlt645.MeterAnswer, ts: number): { reading: Reading; problem?: string } {
  const bad = (problem: string) => ({ reading: { device, point: point.point, ts, value: null, quality: 'bad' as const }, problem: `${point.point}: ${problem}` });
  if (answer.kind === 'abnormal') return bad(answer.message);
  if (answer.kind !== 'data') return bad(answer.kind === 'unexpected' ? answer.message : 'an address where data was asked for');
  const decoded = decodeDlt645Point(point, answer.value);
  if ('error' in decoded) return bad(decoded.error);
  return { reading: { device, point: point.point, ts, value: decoded.value, quality: 'good' } };
}

/**
 * Polls the meters of one DL/T 645 bus, one transaction at a time: each point of a meter's
 * profile is one read by data identifier, retried when no valid answer came. An abnormal answer
 * is an answer: the point is reported `bad` and the problem logged by name, and the meter stays
 * online. A meter that does not answer goes offline after a run of failed polls and is then only
 * probed, with backoff, within `probe_share` of the line's time, as on a Modbus bus.
 */
export class Dlt645BusPoller {
  private readonly meters: Meter[];
  private readonly transport: Dlt645Transport;
  private readonly budget: TokenBucket;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private worker: Promise<void> | undefined;

  constructor(private readonly options: Dlt645BusPollerOptions) {
    const { bus } = options;
    this.now = options.now ?? Date.now;
    this.transport =
      options.transport ??
      new Dlt645Master({ path: bus.path, line: serialLineOf(bus)!, timeoutMs: bus.timeout_ms, wakeUp: bus.wake_up_bytes });
    const start = this.now();
    this.budget = new TokenBucket(bus.probe_share, 2 * bus.timeout_ms, start);
    this.meters = options.devices.map(({ config, profile }) => {
      if (config.address === undefined) throw new Error(`device "${config.id}" on DL/T 645 bus "${bus.id}" has no meter address`);
      return {
        id: config.id,
        config,
        address: config.address,
        points: dlt645PointsOf(profile),
        comm: new CommState(config.offline_after_failures),
        nextDue: start,
        probeIntervalMs: 0,
        lastProblems: undefined,
      };
    });
  }

  commSnapshot(device: string) {
    return this.meters.find((meter) => meter.id === device)?.comm.snapshot();
  }

  start(): void {
    this.worker ??= this.work();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.worker;
    await this.transport.close();
  }

  private async work(): Promise<void> {
    while (!this.abort.signal.aborted && this.meters.length > 0) {
      const meter = this.meters.reduce((a, b) => (b.nextDue < a.nextDue ? b : a));
      const wait = meter.nextDue - this.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: this.abort.signal });
        } catch {
          return; // stopping
        }
        continue;
      }
      if (meter.comm.isOffline) await this.probe(meter);
      else await this.poll(meter);
    }
  }

  /** One read, retried while no valid answer comes; a closed port is not retried. */
  private async read(meter: Meter, point: Dlt645Point, retries: number): Promise<Dlt645Result> {
    for (let attempt = 0; ; attempt++) {
      const result = await this.transport.read(meter.address, point.di);
      if (result.ok || result.failure.kind === 'connection' || attempt >= retries) return result;
    }
  }

  private async poll(meter: Meter): Promise<void> {
    const readings: Reading[] = [];
    const problems: string[] = [];
    let silence: string | undefined;
    for (const point of meter.points) {
      const result = await this.read(meter, point, meter.config.retries);
      if (!result.ok) {
        // No valid answer even after retries: the meter, or the line to it, is not answering.
        silence = `${dlt645.describeDataIdentifier(point.di)} (${point.point}): ${result.failure.message}`;
        break;
      }
      const { reading, problem } = pointReading(meter.id, point, result.answer, this.now());
      readings.push(reading);
      if (problem !== undefined) problems.push(problem);
    }
    this.logProblemsOnce(meter, problems.join('; ') || undefined);
    const at = this.now();
    const answered = readings.length > 0;
    const change = answered ? meter.comm.succeeded(at) : meter.comm.failed(at, silence ?? 'no answer');
    if (change?.to === 'offline') {
      // The points' last values are no longer true: say so once, when the outage is declared.
      readings.push(...meter.points.map((point) => ({ device: meter.id, point: point.point, ts: at, value: null, quality: 'bad' as const })));
      meter.probeIntervalMs = Math.max(meter.config.poll_interval_ms, this.options.bus.timeout_ms);
      meter.nextDue = at + meter.probeIntervalMs;
    } else {
      meter.nextDue = nextSlot(meter.nextDue, meter.config.poll_interval_ms, at);
    }
    if (change) this.options.sink.commChanged(meter.id, change);
    if (readings.length > 0) this.options.sink.readings(readings);
  }

  private logProblemsOnce(meter: Meter, problems: string | undefined): void {
    if (problems !== undefined && problems !== meter.lastProblems) {
      this.options.log.warn({ device: meter.id, address: meter.address, problems }, 'meter answered with errors');
    }
    meter.lastProblems = problems;
  }

  /** One read of an offline meter's first point, within the line's probe budget. */
  private async probe(meter: Meter): Promise<void> {
    // A probe may cost the line a whole timeout; it is charged that, and refunded what it did not use.
    const cost = this.options.bus.timeout_ms;
    const grant = this.budget.take(cost, this.now());
    if (!grant.granted) return void (meter.nextDue = this.now() + grant.waitMs);
    const point = meter.points[0]!;
    const started = this.now();
    const result = await this.transport.read(meter.address, point.di);
    const at = this.now();
    this.budget.refund(cost - (at - started));
    if (result.ok) {
      const change = meter.comm.succeeded(at);
      if (change) this.options.sink.commChanged(meter.id, change);
      meter.nextDue = at; // back: a full poll straight away
      return;
    }
    meter.comm.failed(at, `${dlt645.describeDataIdentifier(point.di)} (${point.point}): ${result.failure.message}`);
    meter.probeIntervalMs = Math.min(meter.probeIntervalMs * 2, meter.config.max_probe_interval_ms);
    meter.nextDue = at + meter.probeIntervalMs;
  }
}
