import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';

/**
 * The agent's configuration file. Defaults are the values an installer would pick on a typical
 * site, so that a minimal file names only what is particular to the site.
 */
const TcpBus = z.object({
  id: Identifier,
  transport: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(502),
  /** How long a device on this bus may take to answer one request. */
  timeout_ms: z.number().int().min(10).max(60_000).default(1000),
});

export const Bus = z.discriminatedUnion('transport', [TcpBus]);

export const Device = z.object({
  id: Identifier,
  bus: Identifier,
  /** The Modbus unit id (slave address). */
  unit: z.number().int().min(1).max(247),
  /** A shipped profile id, or the path of a profile file relative to this config. */
  profile: z.string().min(1),
  poll_interval_ms: z.number().int().min(100).max(86_400_000).default(5000),
  /** Consecutive failed polls after which the device is reported offline. */
  offline_after_failures: z.number().int().min(1).max(100).default(3),
});

export const Uplink = z.object({
  url: z.string().regex(/^mqtts?:\/\/.+/, 'an mqtt:// or mqtts:// URL'),
  username: z.string().optional(),
  password: z.string().optional(),
  /** Readings are gathered for this long and published as one telemetry batch. */
  batch_interval_ms: z.number().int().min(10).max(60_000).default(1000),
  batch_max_readings: z.number().int().min(1).max(10_000).default(1000),
});

export const AgentConfig = z
  .object({
    site: Identifier,
    gateway: Identifier,
    /** Defaults to a folder named after the gateway under GATEHOUSE_DATA_DIR. */
    data_dir: z.string().min(1).optional(),
    uplink: Uplink,
    buses: z.array(Bus).min(1),
    devices: z.array(Device).min(1),
  })
  .superRefine((config, ctx) => {
    const buses = new Set<string>();
    config.buses.forEach((bus, index) => {
      if (buses.has(bus.id)) ctx.addIssue({ code: 'custom', path: ['buses', index, 'id'], message: `bus "${bus.id}" is defined twice` });
      buses.add(bus.id);
    });
    const devices = new Set<string>();
    const units = new Set<string>();
    config.devices.forEach((device, index) => {
      if (devices.has(device.id)) {
        ctx.addIssue({ code: 'custom', path: ['devices', index, 'id'], message: `device "${device.id}" is defined twice` });
      }
      devices.add(device.id);
      if (!buses.has(device.bus)) {
        ctx.addIssue({ code: 'custom', path: ['devices', index, 'bus'], message: `no bus "${device.bus}" is defined` });
      }
      const unitKey = `${device.bus}/${device.unit}`;
      if (units.has(unitKey)) {
        ctx.addIssue({
          code: 'custom',
          path: ['devices', index, 'unit'],
          message: `unit ${device.unit} is already used on bus "${device.bus}"`,
        });
      }
      units.add(unitKey);
    });
  });

export type AgentConfig = z.infer<typeof AgentConfig>;
export type BusConfig = z.infer<typeof Bus>;
export type DeviceConfig = z.infer<typeof Device>;
