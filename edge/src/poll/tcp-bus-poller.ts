import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ModbusTcpClient, type Reading } from '@gatehouse/protocols';
import { decodePlannedRead, planProfileReads, type DeviceProfile, type PlannedRead } from '@gatehouse/devices';
import type { BusConfig, DeviceConfig } from '../config/schema.js';
import { CommState, type CommChange } from './comm-state.js';

export interface PolledDevice {
  config: DeviceConfig;
  profile: DeviceProfile;
}

export interface PollSink {
  readings(readings: Reading[]): void;
  commChanged(device: string, change: CommChange): void;
}

interface DeviceSchedule extends PolledDevice {
  plan: PlannedRead[];
  comm: CommState;
  nextDue: number;
}

/**
 * The next due time after `now` on the device's fixed grid of intervals. Cycles stay on the grid
 * (no drift from poll durations); a cycle missed because the bus was busy is skipped, not queued.
 */
export function nextSlot(previousDue: number, intervalMs: number, now: number): number {
  const next = previousDue + intervalMs;
  return next > now ? next : now + intervalMs - ((now - previousDue) % intervalMs);
}

/**
 * Polls the devices of one Modbus TCP endpoint, one transaction at a time, each on its interval.
 */
export class TcpBusPoller {
  private readonly client: ModbusTcpClient;
  private readonly devices: DeviceSchedule[];
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    bus: BusConfig,
    devices: readonly PolledDevice[],
    private readonly sink: PollSink,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.client = new ModbusTcpClient({ host: bus.host, port: bus.port, timeoutMs: bus.timeout_ms });
    const start = now();
    this.devices = devices.map((device) => ({
      ...device,
      plan: planProfileReads(device.profile),
      comm: new CommState(device.config.offline_after_failures),
      nextDue: start,
    }));
  }

  commSnapshot(device: string) {
    return this.devices.find((d) => d.config.id === device)?.comm.snapshot();
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    await this.client.close();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const device = this.devices.reduce((a, b) => (b.nextDue < a.nextDue ? b : a));
      const wait = device.nextDue - this.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: this.abort.signal });
        } catch {
          return; // stopped
        }
      }
      await this.poll(device);
      device.nextDue = nextSlot(device.nextDue, device.config.poll_interval_ms, this.now());
    }
  }

  private async poll(device: DeviceSchedule): Promise<void> {
    const readings: Reading[] = [];
    const id = device.config.id;
    let failure: string | undefined;
    for (const read of device.plan) {
      const { table, address, count } = read.request;
      const result = await this.client.read(device.config.unit, table, address, count);
      const ts = this.now();
      if (!result.ok) {
        failure = `${table} ${address}+${count}: ${result.failure.message}`;
        // An exception condemns only this request's points; no answer at all condemns the cycle.
        if (result.failure.kind !== 'exception') break;
        for (const point of read.points) readings.push({ device: id, point: point.point, ts, value: null, quality: 'bad' });
        continue;
      }
      for (const decoded of decodePlannedRead(read, result.values)) {
        readings.push(
          'value' in decoded
            ? { device: id, point: decoded.point, ts, value: decoded.value, quality: 'good' }
            : { device: id, point: decoded.point, ts, value: null, quality: 'bad' },
        );
      }
    }
    const at = this.now();
    const change = failure === undefined || readings.length > 0 ? device.comm.succeeded(at) : device.comm.failed(at, failure);
    if (failure !== undefined && readings.length > 0) this.log.warn({ device: id, failure }, 'device answered with an exception');
    if (change?.to === 'offline') {
      // The points' last values are no longer true: say so once, when the outage is declared.
      for (const point of device.profile.points) readings.push({ device: id, point: point.point, ts: at, value: null, quality: 'bad' });
    }
    if (change) this.sink.commChanged(id, change);
    if (readings.length > 0) this.sink.readings(readings);
  }
}
