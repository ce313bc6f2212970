import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';
import { EVERY_ROLE, seesSite } from '../../auth/roles.js';
import type { Registry } from '../../store/registry.js';
import { principalOf } from '../access.js';
import { SITE_PARAM } from './gateways.js';
import { errors } from '../errors.js';
import { DeviceBody, ErrorBody, SiteBody } from '../schemas.js';

export const siteRoutes =
  (registry: Registry): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/sites',
      {
        config: { access: { roles: EVERY_ROLE, scope: 'sites:read', site: 'listed' } },
        schema: {
          summary: 'Every site, with its time zone and how many of its devices are online',
          tags: ['sites'],
          response: { 200: z.object({ sites: z.array(SiteBody) }) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        return { sites: (await registry.listSites()).filter((site) => seesSite(principal, site.id)) };
      },
    );

    app.get(
      '/sites/:id/devices',
      {
        config: { access: { roles: EVERY_ROLE, scope: 'sites:read', site: SITE_PARAM } },
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
