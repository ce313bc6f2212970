import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DeviceInventoryEntry } from '@gatehouse/protocols';
import type { LoadedConfig } from './config/load.js';
import { BusPoller, type PolledDevice, type PollSink } from './poll/bus-poller.js';
import { LearnedGaps } from './poll/learned-gaps.js';
import { MqttUplink } from './uplink/mqtt-uplink.js';
import { PersistentSequence } from './uplink/sequence.js';
import { AGENT_VERSION } from './version.js';

export interface RunningAgent {
  readonly bootId: string;
  stop(): Promise<void>;
}

/** Starts polling every bus of the configuration and forwarding what is read to the hub. */
export function startAgent(loaded: LoadedConfig, log: Logger): RunningAgent {
  const { config } = loaded;
  const bootId = randomUUID();
  const uplink = new MqttUplink(
    config.uplink,
    { site: config.site, gateway: config.gateway, bootId, agentVersion: AGENT_VERSION, configVersion: loaded.version },
    new PersistentSequence(join(loaded.dataDir, 'sequence')),
    log.child({ part: 'uplink' }),
  );
  const pollers: BusPoller[] = [];
  const learned = new LearnedGaps(join(loaded.dataDir, 'learned-gaps.json'));
  const inventory = (): DeviceInventoryEntry[] =>
    config.devices.map((device) => {
      const profile = loaded.profiles.get(device.profile)!;
      const comm = pollers.map((poller) => poller.commSnapshot(device.id)).find(Boolean);
      return {
        device: device.id,
        kind: profile.kind,
        profile: profile.id,
        comm: comm ?? { status: 'unknown', last_good_read: null, consecutive_failures: 0, total_errors: 0 },
      };
    });

  const sink: PollSink = {
    readings: (readings) => uplink.addReadings(readings),
    commChanged: (device, change) => {
      if (change.to === 'offline') log.warn({ device, reason: change.reason }, 'device offline');
      else if (change.outageMs !== undefined) log.info({ device, outage_ms: change.outageMs }, 'device back online');
      else log.info({ device }, 'device online');
      uplink.setInventory(inventory());
    },
  };

  for (const bus of config.buses) {
    const devices: PolledDevice[] = config.devices
      .filter((device) => device.bus === bus.id)
      .map((device) => ({ config: device, profile: loaded.profiles.get(device.profile)! }));
    if (devices.length === 0) continue;
    pollers.push(new BusPoller({ bus, devices, sink, log: log.child({ bus: bus.id }), learned }));
  }

  uplink.setInventory(inventory());
  uplink.start();
  pollers.forEach((poller) => poller.start());
  log.info(
    { site: config.site, gateway: config.gateway, devices: config.devices.length, buses: pollers.length, boot_id: bootId },
    'agent started',
  );

  return {
    bootId,
    stop: async () => {
      await Promise.all(pollers.map((poller) => poller.stop()));
      await uplink.stop();
      log.info('agent stopped');
    },
  };
}
