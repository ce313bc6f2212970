import type { FastifyPluginAsync } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { IngestionCounters } from '../../ingest/ingestion.js';

/**
 * GET /metrics: the hub's figures in Prometheus's text format — ingestion (rate from the
 * counters, rejects, duplicates, lag, whether the store is taking writes) and the process
 * (resident memory, event-loop lag) from prom-client's defaults.
 */
export function hubMetrics(ingestion: IngestionCounters): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const figure = (name: string, help: string, read: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  figure('gatehouse_ingest_messages_total', 'Messages taken off the broker', () => ingestion.messages);
  figure('gatehouse_ingest_readings_stored_total', 'Readings written to the telemetry store', () => ingestion.readings_stored);
  figure('gatehouse_ingest_events_stored_total', 'Device events written to the event log', () => ingestion.events_stored);
  figure('gatehouse_ingest_duplicates_total', 'Replayed batches recognised and skipped', () => ingestion.duplicates);
  figure('gatehouse_ingest_rejected_total', 'Messages rejected (invalid, or refused by the store)', () => ingestion.rejected);
  figure('gatehouse_ingest_store_retries_total', 'Store operations retried while the store was failing', () => ingestion.store_retries);
  figure('gatehouse_ingest_lag_seconds', 'From reading the oldest reading of the last batch to storing it', () => ingestion.lag_ms / 1000);
  figure('gatehouse_ingest_store_available', '1 while the stores take writes, 0 while ingestion holds back', () =>
    ingestion.store_available ? 1 : 0,
  );
  return registry;
}

export const metricsRoutes =
  (registry: Registry): FastifyPluginAsync =>
  async (app) => {
    // Prometheus scrapes without credentials; the figures name no site, device or person.
    app.get('/metrics', { schema: { hide: true }, config: { access: { roles: 'public' } } }, async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  };
