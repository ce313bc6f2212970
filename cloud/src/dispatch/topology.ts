import { parseHubDeviceId } from '@gatehouse/protocols';
import type { AlarmBook, AlarmInput, AlarmRecord } from '../alarms/alarm-book.js';
import type { Registry } from '../store/registry.js';
import { SEVERITY_RANK } from '../work-orders/lifecycle.js';

/** The hub's own alarm for a gateway that lost its connection (raised from its Last Will). */
export const GATEWAY_OFFLINE = 'gateway_offline';
/** The hub's own alarm for a bus on which several devices stopped answering together. */
export const BUS_OFFLINE = 'bus_offline';

/**
 * The broker notices a dead gateway only after one and a half keep-alive intervals (90 s with
 * the agent's 60 s): a comm-loss alarm raised this long before the gateway's offline alarm is
 * still part of that outage.
 */
const GATEWAY_SLACK_MS = 2 * 60_000;

/** `{site}.{gateway}.bus:{bus}`: an alarm source that is a bus, not a device. */
export const busSource = (site: string, gateway: string, bus: string) => `${site}.${gateway}.bus:${bus}`;

function busOfSource(source: string): { site: string; gateway: string; bus: string } | undefined {
  const match = /^([^.]+)\.([^.]+)\.bus:([^.]+)$/.exec(source);
  return match ? { site: match[1]!, gateway: match[2]!, bus: match[3]! } : undefined;
}

/**
 * Where a device sits (its gateway, its bus), so that when a gateway or a whole bus goes down
 * the comm-loss alarms of the devices behind it are grouped under one alarm that pages once,
 * instead of paging once per device.
 */
export class Topology {
  constructor(
    private readonly alarms: AlarmBook,
    private readonly registry: Registry,
  ) {}

  /**
   * The alarm that already stands for a device's comm loss: its gateway's offline alarm, when
   * the device was lost during that outage; else its bus's alarm, while active.
   */
  async coveringAlarm(alarm: AlarmRecord): Promise<AlarmRecord | undefined> {
    const device = parseHubDeviceId(alarm.source);
    if (!device) return undefined;
    const gateway = await this.alarms.find(alarm.site, `${device.site}.${device.gateway}`, GATEWAY_OFFLINE);
    if (gateway && gateway.episode > 0) {
      const began = gateway.raised_at - GATEWAY_SLACK_MS;
      const ended = gateway.state === 'active' ? Infinity : (gateway.cleared_at ?? 0);
      if (alarm.raised_at >= began && alarm.raised_at <= ended) return gateway;
    }
    const bus = await this.busOf(alarm);
    if (!bus) return undefined;
    const busAlarm = await this.alarms.find(alarm.site, busSource(alarm.site, device.gateway, bus), BUS_OFFLINE);
    return busAlarm?.state === 'active' ? busAlarm : undefined;
  }

  /** The bus a device's alarm came from, if its gateway polls it on one. */
  async busOf(alarm: AlarmRecord): Promise<string | undefined> {
    return (await this.registry.getDevice(alarm.source))?.bus ?? undefined;
  }

  /**
   * The bus's alarm for comm-loss alarms of several of its devices: raised at the first one's
   * time, as severe as the worst.
   */
  busAlarmFor(site: string, gateway: string, bus: string, devices: readonly AlarmRecord[]): AlarmInput {
    const worst = devices.map((alarm) => alarm.severity).reduce((a, b) => (SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a));
    const names = devices.map((alarm) => parseHubDeviceId(alarm.source)?.device ?? alarm.source);
    return {
      site,
      gateway,
      source: busSource(site, gateway, bus),
      rule: BUS_OFFLINE,
      state: 'raised',
      severity: worst,
      ts: Math.min(...devices.map((alarm) => alarm.raised_at)),
      message: `bus ${bus} of gateway ${gateway}: ${names.length} devices are not answering (${names.join(', ')})`,
      value: names.length,
    };
  }

  /** The bus's alarm clearing, once every device under it answers again. */
  busCleared(bus: AlarmRecord, at: number): AlarmInput {
    return { site: bus.site, gateway: bus.gateway, source: bus.source, rule: BUS_OFFLINE, state: 'cleared', severity: bus.severity, ts: at, message: 'every device on the bus answers again' };
  }

  /** The kind of device an alarm is about: the device's, or the one kind on an alarmed bus. */
  async kindOf(alarm: AlarmRecord): Promise<string | null> {
    if (parseHubDeviceId(alarm.source)) return (await this.registry.getDevice(alarm.source))?.kind ?? null;
    const bus = busOfSource(alarm.source);
    if (!bus) return null;
    const kinds = await this.registry.kindsOnBus(bus.site, bus.gateway, bus.bus);
    return kinds.length === 1 ? kinds[0]! : null;
  }
}
