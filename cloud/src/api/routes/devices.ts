import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseHubDeviceId, POINT_CATALOGUE } from '@gatehouse/protocols';
import { EVERY_ROLE, seesSite } from '../../auth/roles.js';
import { principalOf, type RouteAccess, type SiteOfRoute } from '../access.js';
import type { Registry } from '../../store/registry.js';
import type { TelemetryStore } from '../../store/telemetry/port.js';
import { errors } from '../errors.js';
import { unitOf } from '../point-lookup.js';
import { DeviceBody, DeviceParams, ErrorBody, ReadingBody } from '../schemas.js';

export interface DeviceRouteDeps {
  registry: Registry;
  telemetry: TelemetryStore;
}

/** Routes under /devices/:id belong to the site in the device id ({site}.{gateway}.{device}). */
export const DEVICE_PARAM: SiteOfRoute = {
  describe: 'params.id is a device of the site',
  of: (params) => parseHubDeviceId(params.id ?? '')?.site,
  notFound: (params) => errors.deviceNotFound(params.id ?? ''),
};

/** Reading a device: every role, within its sites. */
export const READ_DEVICE: RouteAccess = { roles: EVERY_ROLE, scope: 'devices:read', site: DEVICE_PARAM };

export const deviceRoutes =
  (deps: DeviceRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/devices',
      {
        config: { access: { roles: EVERY_ROLE, scope: 'devices:read', site: 'listed' } },
        schema: {
          summary: 'Every device the hub knows, with its communication status',
          tags: ['devices'],
          response: { 200: z.object({ devices: z.array(DeviceBody) }) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return { devices: (await deps.registry.listDevices()).filter((device) => seesSite(principal, device.site)) };
      },
    );

    app.get(
      '/devices/:id/latest',
      {
        config: { access: READ_DEVICE },
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
        config: { access: { roles: EVERY_ROLE, scope: 'devices:read' } },
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
