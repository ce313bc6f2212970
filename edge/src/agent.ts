import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AlarmEngine, type AlarmTransition, type DeviceInventoryEntry } from '@gatehouse/protocols';
import { clockCheck } from './clock.js';
import type { LoadedConfig } from './config/load.js';
import { startSiteServices } from './events/services.js';
import { agentMetrics, serveMetrics } from './metrics.js';
import { Outbox } from './outbox/outbox.js';
import { QuotaAlarm } from './outbox/quota-alarm.js';
import { BusPoller, type PolledDevice, type PollSink } from './poll/bus-poller.js';
import { Dlt645BusPoller, type Dlt645PolledDevice } from './poll/dlt645-poller.js';
import { LearnedGaps } from './poll/learned-gaps.js';
import { OpcuaBusClient, type OpcuaDevice } from './opcua/opcua-bus.js';
import { MqttUplink } from './uplink/mqtt-uplink.js';
import { AGENT_VERSION } from './version.js';

export interface RunningAgent {
  readonly bootId: string;
  readonly metricsUrl: string;
  /** The plate-read listener's base URL, when `lpr` is configured. */
  readonly lprUrl: string | undefined;
  stop(): Promise<void>;
}

const MB = 1024 * 1024;
/** How often a full outbox checks whether it has drained enough to clear its alarm. */
const QUOTA_CHECK_MS = 5000;
/** How often alarm rules look at time passing: delays running out, data going stale. */
const ALARM_TICK_MS = 1000;

const UNKNOWN_COMM: DeviceInventoryEntry['comm'] = { status: 'unknown', last_good_read: null, consecutive_failures: 0, total_errors: 0 };

/** Starts polling every bus of the configuration and forwarding what is read to the hub. */
export async function startAgent(loaded: LoadedConfig, log: Logger): Promise<RunningAgent> {
  const { config } = loaded;
  const bootId = randomUUID();
  const quotaBytes = config.outbox.quota_mb * MB;
  const outbox = Outbox.open({ dir: join(loaded.dataDir, 'outbox'), quotaBytes });
  const uplink = new MqttUplink(
    config.uplink,
    { site: config.site, gateway: config.gateway, bootId, agentVersion: AGENT_VERSION, configVersion: loaded.version },
    outbox,
    clockCheck({ requireSync: config.clock.require_sync }),
    log.child({ part: 'uplink' }),
  );
  const quotaAlarm = new QuotaAlarm(config.gateway, outbox, quotaBytes, (alarm) => uplink.addAlarms([alarm]), log.child({ part: 'outbox' }));
  outbox.onDrop = (drop) => quotaAlarm.dropped(drop);
  const quotaTimer = setInterval(() => quotaAlarm.check(), QUOTA_CHECK_MS);

  const pollers: Array<BusPoller | Dlt645BusPoller | OpcuaBusClient> = [];
  const learned = new LearnedGaps(join(loaded.dataDir, 'learned-gaps.json'));
  const commOf = (device: string) => pollers.map((poller) => poller.commSnapshot(device)).find(Boolean) ?? UNKNOWN_COMM;
  // The gateway's own door lines and its cameras are devices too, so that the hub knows their
  // kinds (a door can be unlocked) before their first event; nothing polls them, so their comm
  // status stays unknown.
  const unpolled: DeviceInventoryEntry[] = [
    ...(config.gpio?.doors ?? []).map((door) => ({ device: door.device, kind: 'access_controller', profile: 'gateway-gpio-door', comm: UNKNOWN_COMM })),
    ...(config.lpr?.cameras ?? []).map((camera) => ({ device: camera, kind: 'lpr_camera', profile: 'lpr-push', comm: UNKNOWN_COMM })),
  ];
  const inventory = (): DeviceInventoryEntry[] => [
    ...config.devices.map((device) => {
      const profile = loaded.profiles.get(device.profile)!;
      return { device: device.id, kind: profile.kind, profile: profile.id, bus: device.bus, comm: commOf(device.id) };
    }),
    ...unpolled,
  ];

  const kindOf = new Map(config.devices.map((device) => [device.id, loaded.profiles.get(device.profile)!.kind]));
  const alarms = new AlarmEngine({ rules: config.alarms, kindOf: (device) => kindOf.get(device) });
  const raise = (transitions: AlarmTransition[]) => {
    if (transitions.length === 0) return;
    for (const alarm of transitions) log.warn({ device: alarm.device, rule: alarm.rule, severity: alarm.severity, state: alarm.state }, alarm.message);
    uplink.addAlarms(transitions).catch((error: unknown) => log.error({ err: error }, 'outbox write failed; alarms lost'));
  };
  const alarmTimer = setInterval(() => raise(alarms.tick()), ALARM_TICK_MS);

  const sink: PollSink = {
    readings: (readings) => {
      uplink.addReadings(readings).catch((error: unknown) => log.error({ err: error }, 'outbox write failed; readings lost'));
      raise(alarms.readings(readings));
    },
    commChanged: (device, change) => {
      if (change.to === 'offline') log.warn({ device, reason: change.reason }, 'device offline');
      else if (change.outageMs !== undefined) log.info({ device, outage_ms: change.outageMs }, 'device back online');
      else log.info({ device }, 'device online');
      uplink.setInventory(inventory());
      raise(alarms.comm(device, change.to === 'online'));
    },
  };

  const busOf = new Map<string, BusPoller>();
  for (const bus of config.buses) {
    // The config's validation has given each device a profile of its bus's protocol.
    const devices = config.devices
      .filter((device) => device.bus === bus.id)
      .map((device) => ({ config: device, profile: loaded.profiles.get(device.profile)! }));
    if (devices.length === 0) continue;
    const busLog = log.child({ bus: bus.id });
    if (bus.transport === 'opcua') {
      // Subscribed, not polled: the server reports changes.
      pollers.push(new OpcuaBusClient({ bus, devices: devices as OpcuaDevice[], sink, log: busLog, pkiDir: join(loaded.dataDir, 'opcua-pki') }));
    } else if (bus.transport === 'dlt645') pollers.push(new Dlt645BusPoller({ bus, devices: devices as Dlt645PolledDevice[], sink, log: busLog }));
    else {
      const poller = new BusPoller({ bus, devices: devices as PolledDevice[], sink, log: busLog, learned });
      devices.forEach((device) => busOf.set(device.config.id, poller));
      pollers.push(poller);
    }
  }

  // Event buffers, the gateway's own lines, plate reads and the hub's commands.
  const site = await startSiteServices({
    loaded,
    outbox,
    uplink,
    busOf,
    log,
    onEvents: (events) => raise(events.flatMap((event) => alarms.event(event))),
    raiseAlarm: (alarm) => raise([alarm]),
  });

  const metrics = await serveMetrics(
    site.registerMetrics(agentMetrics({
      outbox,
      uplink,
      devices: () =>
        config.devices.map((device) => {
          const comm = commOf(device.id);
          return { device: device.id, status: comm.status, totalErrors: comm.total_errors };
        }),
    })),
    config.metrics.host,
    config.metrics.port,
  );

  uplink.setInventory(inventory());
  uplink.start();
  pollers.forEach((poller) => poller.start());
  log.info(
    {
      site: config.site,
      gateway: config.gateway,
      devices: config.devices.length,
      buses: pollers.length,
      boot_id: bootId,
      metrics_url: metrics.url,
      lpr_url: site.lprUrl,
      outbox: outbox.stats().depth,
    },
    'agent started',
  );

  return {
    bootId,
    metricsUrl: metrics.url,
    lprUrl: site.lprUrl,
    stop: async () => {
      clearInterval(quotaTimer);
      clearInterval(alarmTimer);
      await site.stop();
      await Promise.all(pollers.map((poller) => poller.stop()));
      await uplink.stop();
      await metrics.close();
      await outbox.close();
      log.info('agent stopped');
    },
  };
}
