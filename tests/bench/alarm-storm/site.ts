import type { AlarmInput, OnCall, Registry } from '@gatehouse/cloud';
import type { DeviceKind, DevicesPayload } from '@gatehouse/protocols';
import { seedOneStepTeam } from '../../support/oncall.js';

/** The one site of the benchmark, and the size of its installation. */
export const SITE = 'storm-site';

export interface SiteShape {
  gateways: number;
  busesPerGateway: number;
  devicesPerBus: number;
}

export interface Device {
  gateway: string;
  bus: string;
  device: string;
  kind: DeviceKind;
  /** Its place on its bus, 0 first: the poll slot in which its gateway gives up on it. */
  slot: number;
}

/** The teams, one per trade the site's kinds of device call for, and `general` for the rest. */
export const TEAMS = [
  ['lifts', 'elevator'],
  ['electricians', 'electrical'],
  ['plumbers', 'plumbing'],
  ['access', 'access'],
  ['parking', 'parking'],
  ['facilities', 'general'],
] as const;

/**
 * What each bus carries: one kind of device per RS-485 line, as installers wire them (the lifts'
 * machine room, a riser of electricity meters…), in turn across the gateway's buses; every fifth
 * bus carries electricity and water meters together, so that its alarm goes to the general team
 * (a bus of several kinds has no one trade).
 */
const BUS_KINDS: readonly DeviceKind[] = ['electric_meter', 'elevator', 'water_meter', 'access_controller', 'barrier_gate', 'lpr_camera'];
const MIXED_EVERY = 5;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
export const gatewayName = (g: number) => `gw-${pad(g + 1)}`;
export const busName = (b: number) => `rs485-${pad(b + 1)}`;

function kindOf(gateway: number, bus: number, device: number): DeviceKind {
  if (bus % MIXED_EVERY === MIXED_EVERY - 1) return device % 2 === 0 ? 'electric_meter' : 'water_meter';
  return BUS_KINDS[(gateway + bus) % BUS_KINDS.length]!;
}

/** Every device of the site, gateway by gateway, bus by bus. */
export function devicesOf(shape: SiteShape): Device[] {
  const devices: Device[] = [];
  for (let g = 0; g < shape.gateways; g++) {
    for (let b = 0; b < shape.busesPerGateway; b++) {
      for (let d = 0; d < shape.devicesPerBus; d++) {
        const kind = kindOf(g, b, d);
        devices.push({ gateway: gatewayName(g), bus: busName(b), device: `${kind.replaceAll('_', '-')}-${pad(b + 1)}-${pad(d + 1, 3)}`, kind, slot: d });
      }
    }
  }
  return devices;
}

/**
 * Sets the site up as a small operator would: a team per trade with one technician on a daily
 * rota, each team's policy one step that pages the primary over the hub's webhook at once (so
 * that pages = work orders escalated), and the registry's inventory of every gateway.
 */
export async function setUpSite(oncall: OnCall, registry: Registry, devices: readonly Device[], at: number): Promise<void> {
  for (const [team, trade] of TEAMS) {
    await seedOneStepTeam(oncall, SITE, team, trade);
  }
  const byGateway = new Map<string, Device[]>();
  for (const device of devices) {
    const ofGateway = byGateway.get(device.gateway) ?? [];
    ofGateway.push(device);
    byGateway.set(device.gateway, ofGateway);
  }
  for (const [gateway, ofGateway] of byGateway) {
    const inventory: DevicesPayload = {
      v: 1,
      ts: at,
      devices: ofGateway.map(({ device, kind, bus }) => ({
        device,
        kind,
        profile: `reference-${kind.replaceAll('_', '-')}`,
        bus,
        comm: { status: 'online' as const, last_good_read: at, consecutive_failures: 0, total_errors: 0 },
      })),
    };
    await registry.applyInventory(SITE, gateway, inventory);
  }
}

/**
 * A device's comm-loss alarm raised (or cleared) at `ts`, as the agent's comm-loss rule reports
 * it; with `grouping` false the same transition without its `rule_type`, as an agent older than
 * rule types sends it, which the desk pages for on its own.
 */
export function commLoss(device: Device, ts: number, grouping: boolean, state: 'raised' | 'cleared' = 'raised'): AlarmInput {
  return {
    site: SITE,
    gateway: device.gateway,
    source: `${SITE}.${device.gateway}.${device.device}`,
    rule: 'comm-loss',
    ...(grouping ? { rule_type: 'comm_loss' as const } : {}),
    state,
    severity: 'major',
    ts,
    message: state === 'raised' ? `${device.device} is not answering` : `${device.device} answers again`,
  };
}

/** The hub's own alarm for a gateway whose connection was lost (its Last Will), or its end. */
export function gatewayOffline(gateway: string, state: 'raised' | 'cleared', ts: number): AlarmInput {
  return {
    site: SITE,
    gateway,
    source: `${SITE}.${gateway}`,
    rule: 'gateway_offline',
    state,
    severity: 'major',
    ts,
    message: state === 'raised' ? `gateway ${gateway} lost its connection` : `gateway ${gateway} is back online`,
  };
}
