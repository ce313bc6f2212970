import { dlt645, frameMs } from '@gatehouse/protocols';
import { dlt645PointsOf } from '@gatehouse/devices';
import type { Dlt645BusConfig } from '../config/schema.js';
import { serialLineOf } from './bus-transport.js';
import type { Dlt645PolledDevice } from './dlt645-poller.js';

const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * What `gatehouse-edge plan` prints for a DL/T 645 bus: each meter's reads, one data identifier
 * each, and the line time of a poll cycle — the request with its wake-up bytes, the meter's
 * turnaround and its answer (counted without wake-up bytes of its own, which meters vary in).
 */
export function dlt645PlanLines(bus: Dlt645BusConfig, devices: readonly Dlt645PolledDevice[]): string[] {
  const line = serialLineOf(bus)!;
  const lines = [`bus ${bus.id} (dlt645 ${bus.path}, ${line.baud} baud ${line.dataBits}${line.parity[0]!.toUpperCase()}${line.stopBits})`];
  let busTotal = 0;
  for (const { config, profile } of devices) {
    const reads = dlt645PointsOf(profile).map((point) => {
      const request = dlt645.frameBytes(4, bus.wake_up_bytes);
      const answer = dlt645.frameBytes(4 + dlt645.valueBytes(point.format));
      return { point, time: frameMs(line, request) + config.turnaround_ms + frameMs(line, answer) };
    });
    const total = reads.reduce((sum, read) => sum + read.time, 0);
    busTotal += total;
    lines.push(`  device ${config.id} (address ${config.address ?? '?'}, ${profile.id}): ${reads.length} requests, ${ms(total)} per cycle`);
    for (const { point, time } of reads) {
      lines.push(`    ${dlt645.describeDataIdentifier(point.di)}  ${ms(time)}  ${point.point}`);
    }
  }
  lines.push(`  bus time per cycle of every device: ${ms(busTotal)}`);
  return lines;
}
