import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';
import type { Registry } from '../../store/registry.js';
import { errors } from '../errors.js';
import { DeviceBody, ErrorBody, SiteBody } from '../schemas.js';

export const siteRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/sites',
      {
        schema: {
          summary: 'Every site, with its time zone and how many of its devices are online',
          tags: ['sites'],
          response: { 200: z.object({ sites: z.array(SiteBody) }) },
        },
      },
      async () => ({ sites: await registry.listSites() }),
    );

    app.get(
      '/sites/:id/devices',
      {
        schema: {
          summary: "A site's devices, with their status and last seen",
          tags: ['sites'],
          params: z.object({ id: Identifier }),
          response: { 200: z.object({ site: z.string(), devices: z.array(DeviceBody) }), 404: ErrorBody },
        },
      },
      async (request) => {
        const site = await registry.getSite(request.params.id);
        if (!site) throw errors.siteNotFound(request.params.id);
        return { site: site.id, devices: await registry.listDevicesOfSite(site.id) };
      },
    );
  };
