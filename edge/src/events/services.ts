import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { AlarmTransition, GatehouseEvent } from '@gatehouse/protocols';
import type { BusPoller } from '../poll/bus-poller.js';
import type { LoadedConfig } from '../config/load.js';
import type { Outbox } from '../outbox/outbox.js';
import type { MqttUplink } from '../uplink/mqtt-uplink.js';
import { CommandExecutor } from '../commands/executor.js';
import type { CommandTarget } from '../commands/plan.js';
import { GpioDoor } from '../gpio/door.js';
import { DebouncedLines, SimulatedLineDriver, type LineDriver } from '../gpio/lines.js';
import { openOnoffDriver } from '../gpio/onoff-driver.js';
import { startLprListener, type LprListener } from '../lpr/listener.js';
import { EventBufferPoller, EventBufferReader } from './event-buffer-reader.js';
import { EventLossAlarm } from './loss-alarm.js';

/** Event buffers are read about this often, each as its own step between the bus's polls. */
export const EVENT_BUFFER_INTERVAL_MS = 1000;
const PRUNE_INTERVAL_MS = 3_600_000;
const TICK_MS = 1000;

export interface SiteServicesOptions {
  loaded: LoadedConfig;
  outbox: Outbox;
  uplink: MqttUplink;
  /** The Modbus bus poller of each device it polls. */
  busOf: ReadonlyMap<string, BusPoller>;
  /** Every event once it is durable: the agent's alarm rules look at it. */
  onEvents: (events: readonly GatehouseEvent[]) => void;
  raiseAlarm: (alarm: AlarmTransition) => void;
  log: Logger;
  /** The lines' driver, instead of the one the configuration names (tests). */
  lineDriver?: LineDriver;
}

export interface SiteServices {
  /** The plate-read listener's base URL, when `lpr` is configured. */
  readonly lprUrl: string | undefined;
  /** The gateway's digital lines, when `gpio` is configured. */
  readonly lines: DebouncedLines | undefined;
  readonly commands: CommandExecutor;
  readonly readers: readonly EventBufferReader[];
  /** Adds the services' figures to the agent's registry, and returns it. */
  registerMetrics(registry: Registry): Registry;
  stop(): Promise<void>;
}

/**
 * What the agent does beside polling: reads access controllers' event buffers, watches the
 * gateway's own door lines, listens for plate reads from LPR cameras, and executes the hub's
 * commands. Everything it produces goes through the outbox.
 */
export async function startSiteServices(options: SiteServicesOptions): Promise<SiteServices> {
  const { loaded, outbox, uplink, busOf, log } = options;
  const { config } = loaded;
  const durable = async (events: GatehouseEvent[]) => {
    await uplink.addEvents(events);
    options.onEvents(events);
  };
  const emit = (event: GatehouseEvent) => {
    durable([event]).catch((error: unknown) => log.error({ err: error, event: event.type, device: event.device }, 'outbox write failed; event lost'));
  };

  const lossAlarm = new EventLossAlarm(options.raiseAlarm);
  const readers: EventBufferReader[] = [];
  for (const device of config.devices) {
    const profile = loaded.profiles.get(device.profile);
    const bus = busOf.get(device.id);
    if (profile?.protocol !== 'modbus' || !profile.event_buffer || !bus || device.unit === undefined) continue;
    readers.push(
      new EventBufferReader({
        device: device.id,
        unit: device.unit,
        profile,
        bus,
        store: {
          getState: (key) => outbox.getState(key),
          addEvents: (events, state) => uplink.addEvents(events, state),
          putState: (state) => outbox.putState(state),
        },
        log: log.child({ part: 'event-buffer' }),
        onEvents: options.onEvents,
        onLost: (count, total) => lossAlarm.lost(device.id, count, total),
      }),
    );
  }
  const offline = (device: string) => busOf.get(device)?.commSnapshot(device)?.status === 'offline';
  const pollers = readers.map((reader) => new EventBufferPoller(reader, EVENT_BUFFER_INTERVAL_MS, () => offline(reader.device)));

  let lines: DebouncedLines | undefined;
  const doors = new Map<string, GpioDoor>();
  if (config.gpio) {
    const driver = options.lineDriver ?? (config.gpio.driver === 'simulated' ? new SimulatedLineDriver() : await openOnoffDriver());
    lines = new DebouncedLines(driver);
    for (const door of config.gpio.doors) doors.set(door.device, new GpioDoor({ config: door, lines, emit, log: log.child({ part: 'gpio' }) }));
  }

  const lpr: LprListener | undefined = config.lpr
    ? await startLprListener({ config: config.lpr, submit: (event) => durable([event]), log: log.child({ part: 'lpr' }) })
    : undefined;

  const devices = new Map(config.devices.map((device) => [device.id, device]));
  const targetOf = (id: string): CommandTarget | undefined => {
    const door = doors.get(id);
    if (door) return { kind: 'gpio-door', device: id, hasLockRelay: door.hasLockRelay };
    const device = devices.get(id);
    const profile = device && loaded.profiles.get(device.profile);
    if (!device || !profile) return undefined;
    if (profile.protocol === 'modbus' && device.unit !== undefined && busOf.has(id)) return { kind: 'modbus', device: id, unit: device.unit, profile };
    return { kind: 'other', device: id, profile };
  };
  const commands = new CommandExecutor({
    targetOf,
    busOf: (id) => busOf.get(id),
    unlockDoor: (id, seconds) => doors.get(id)?.unlock(seconds),
    store: outbox,
    publish: (result, state) => uplink.addCommandResult(result, state),
    log: log.child({ part: 'commands' }),
  });
  const prune = () => {
    commands.prune().then(
      (count) => count > 0 && log.info({ count }, 'forgot old command ids'),
      (error: unknown) => log.warn({ err: error }, 'could not prune command ids'),
    );
  };
  prune();
  const pruneTimer = setInterval(prune, PRUNE_INTERVAL_MS);
  const tickTimer = setInterval(() => lossAlarm.tick(), TICK_MS);
  uplink.onCommand((payload) => void commands.handle(payload));

  pollers.forEach((poller) => poller.start());
  doors.forEach((door) => door.start());

  return {
    lprUrl: lpr?.url,
    lines,
    commands,
    readers,
    registerMetrics: (registry) => {
      const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
        new Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); collect(this); } });
      gauge('gatehouse_commands_total', 'Commands answered, by result status', ['status'], (g) => {
        for (const [status, count] of Object.entries<number>(commands.counters)) g.set({ status }, count);
      });
      gauge('gatehouse_access_events_lost_total', "Events a controller overwrote before the gateway took them", ['device'], (g) => {
        for (const reader of readers) g.set({ device: reader.device }, reader.lost);
      });
      if (lpr) {
        gauge('gatehouse_lpr_reads_total', 'Plate reads pushed by cameras, by outcome', ['result'], (g) => {
          for (const [result, count] of Object.entries<number>({ ...lpr.counters })) g.set({ result }, count);
        });
      }
      return registry;
    },
    stop: async () => {
      clearInterval(pruneTimer);
      clearInterval(tickTimer);
      await Promise.all(pollers.map((poller) => poller.stop()));
      doors.forEach((door) => door.stop());
      await lines?.close();
      await lpr?.close();
    },
  };
}
