import { join } from 'node:path';
import { planBusMs, requestBusMs, type RequestCostModel } from '@gatehouse/protocols';
import { planProfileReads } from '@gatehouse/devices';
import type { LoadedConfig } from './config/load.js';
import { serialLineOf } from './poll/bus-transport.js';
import { LearnedGaps } from './poll/learned-gaps.js';
import { dlt645PlanLines } from './poll/dlt645-plan.js';
import type { Dlt645PolledDevice } from './poll/dlt645-poller.js';

const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * What `gatehouse-edge plan` prints: for every device, the read requests of one poll cycle and
 * the bus time they take, so that an installer can see what a line of meters costs before it is
 * wired. Gaps a device has refused before (learned on site) are taken into account.
 */
export function planReport(loaded: LoadedConfig): string {
  const learned = new LearnedGaps(join(loaded.dataDir, 'learned-gaps.json'));
  const lines: string[] = [];
  for (const bus of loaded.config.buses) {
    const onBus = loaded.config.devices.filter((d) => d.bus === bus.id);
    if (bus.transport === 'dlt645') {
      const meters = onBus.map((config) => ({ config, profile: loaded.profiles.get(config.profile)! }));
      lines.push(...dlt645PlanLines(bus, meters as Dlt645PolledDevice[]));
      continue;
    }
    if (bus.transport === 'opcua') {
      // Nothing to plan: the server reports changes on one subscription.
      lines.push(`bus ${bus.id} (opcua ${bus.endpoint}, subscribed: publishing every ${bus.publishing_interval_ms} ms, sampling every ${bus.sampling_interval_ms} ms)`);
      for (const device of onBus) lines.push(`  device ${device.id} (node ${device.node ?? 'Objects'}, ${device.profile})`);
      continue;
    }
    const line = serialLineOf(bus);
    const where = bus.transport === 'rtu' ? bus.path : `${bus.host}:${bus.port}`;
    const timing = line
      ? `${line.baud} baud ${line.dataBits}${line.parity[0]!.toUpperCase()}${line.stopBits}`
      : 'Modbus TCP (bus time costed on a nominal 9600 8E1 line)';
    lines.push(`bus ${bus.id} (${bus.transport} ${where}, ${timing})`);
    let busTotal = 0;
    for (const device of onBus) {
      const profile = loaded.profiles.get(device.profile)!;
      if (profile.protocol !== 'modbus') continue; // the config's validation allows none here
      const model: RequestCostModel = { ...(line ? { line } : {}), turnaroundMs: device.turnaround_ms };
      const plan = planProfileReads(profile, { model, unreadable: learned.get(device.id, profile.id) });
      const total = planBusMs(
        plan.map((read) => read.request),
        model,
      );
      busTotal += total;
      lines.push(`  device ${device.id} (unit ${device.unit}, ${profile.id}): ${plan.length} request${plan.length === 1 ? '' : 's'}, ${ms(total)} per cycle`);
      for (const read of plan) {
        const { table, address, count } = read.request;
        const points = read.points.map((point) => point.point).join(', ');
        lines.push(`    ${table} ${address}+${count}  ${ms(requestBusMs(model, table, count))}  ${points}`);
      }
    }
    lines.push(`  bus time per cycle of every device: ${ms(busTotal)}`);
  }
  return lines.join('\n');
}
