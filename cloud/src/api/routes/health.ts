import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { IngestionCounters } from '../../ingest/ingestion.js';

export interface HealthDeps {
  version: string;
  startedAt: number;
  /** Clients of the embedded broker; null with an external broker, which the hub cannot see into. */
  brokerClients: () => number | null;
  ingestion: IngestionCounters;
}

export const healthRoutes =
  (deps: HealthDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/health',
      {
        // Load balancers and monitors ask without credentials; it tells nothing about sites.
        config: { access: { roles: 'public' } },
        schema: {
          summary: 'Is the hub up, and what has it ingested',
          tags: ['hub'],
          response: {
            200: z.object({
              status: z.literal('ok'),
              version: z.string(),
              uptime_s: z.number(),
              broker: z.object({ clients: z.number().nullable() }),
              ingestion: z.object({
                messages: z.number(),
                readings_stored: z.number(),
                events_stored: z.number(),
                duplicates: z.number(),
                rejected: z.number(),
                store_retries: z.number(),
                lag_ms: z.number(),
                store_available: z.boolean(),
              }),
            }),
          },
        },
      },
      async () => ({
        status: 'ok' as const,
        version: deps.version,
        uptime_s: Math.round((Date.now() - deps.startedAt) / 1000),
        broker: { clients: deps.brokerClients() },
        ingestion: { ...deps.ingestion },
      }),
    );
  };
