import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { POINT_CATALOGUE } from '@gatehouse/protocols';
import type { Registry } from '../../store/registry.js';
import type { TelemetryStore } from '../../store/telemetry/port.js';
import { errors } from '../errors.js';
import { unitOf } from '../point-lookup.js';
import { DeviceBody, DeviceParams, ErrorBody, ReadingBody } from '../schemas.js';

export interface DeviceRouteDeps {
  registry: Registry;
  telemetry: TelemetryStore;
}

export const deviceRoutes =
  (deps: DeviceRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/devices',
      {
        schema: {
          summary: 'Every device the hub knows, with its communication status',
          tags: ['devices'],
          response: { 200: z.object({ devices: z.array(DeviceBody) }) },
        },
      },
      async () => ({ devices: await deps.registry.listDevices() }),
    );

    app.get(
      '/devices/:id/latest',
      {
        schema: {
          summary: "A device's latest reading of each point, in catalogue units",
          tags: ['devices'],
          params: DeviceParams,
          response: {
            200: z.object({ device: z.string(), kind: z.string().nullable(), readings: z.array(ReadingBody) }),
            404: ErrorBody,
          },
        },
      },
      async (request) => {
        const device = await deps.registry.getDevice(request.params.id);
        if (!device) throw errors.deviceNotFound(request.params.id);
        const readings = await deps.telemetry.latest({ id: device.id, kind: device.kind });
        return {
          device: device.id,
          kind: device.kind,
          readings: readings.map((reading) => ({
            point: reading.point,
            value: reading.value,
            unit: unitOf(device.kind, reading.point),
            quality: reading.quality,
            ts: reading.ts,
          })),
        };
      },
    );

    app.get(
      '/catalogue',
      {
        schema: {
          summary: 'The point catalogue: every point of every device kind, with its unit',
          tags: ['devices'],
          response: {
            200: z.object({
              kinds: z.record(
                z.string(),
                z.record(
                  z.string(),
                  z.object({ type: z.string(), unit: z.string(), description: z.string(), counter: z.boolean().optional() }),
                ),
              ),
            }),
          },
        },
      },
      async () => ({ kinds: POINT_CATALOGUE }),
    );
  };
