import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { CommStatus } from '@gatehouse/protocols';
import { LANES, type Outbox } from './outbox/outbox.js';
import type { MqttUplink } from './uplink/mqtt-uplink.js';

export interface MetricSources {
  outbox: Outbox;
  uplink: MqttUplink;
  devices: () => Array<{ device: string; status: CommStatus; totalErrors: number }>;
}

/** The agent's figures in Prometheus's text format, computed when scraped. */
export function agentMetrics(sources: MetricSources): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); collect(this); } });

  gauge('gatehouse_outbox_messages', 'Messages waiting in the outbox, by lane', ['lane'], (g) => {
    const { depth } = sources.outbox.stats();
    for (const lane of LANES) g.set({ lane }, depth[lane]);
  });
  gauge('gatehouse_outbox_bytes', 'Payload bytes waiting in the outbox', [], (g) => g.set(sources.outbox.stats().bytes));
  gauge('gatehouse_outbox_oldest_age_seconds', 'Age of the oldest message not yet acknowledged', [], (g) => {
    const oldest = sources.outbox.stats().oldestCreatedAt;
    g.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
  });
  gauge('gatehouse_outbox_dropped_total', 'Messages dropped by the outbox quota, by lane', ['lane'], (g) => {
    const { dropped } = sources.outbox.stats();
    for (const lane of LANES) g.set({ lane }, dropped[lane]);
  });
  gauge('gatehouse_uplink_connected', '1 while connected to the broker', [], (g) => g.set(sources.uplink.connected ? 1 : 0));
  gauge('gatehouse_uplink_published_total', 'Messages published to the broker', [], (g) => g.set(sources.uplink.counters.published));
  gauge('gatehouse_uplink_acknowledged_total', 'Messages the broker acknowledged', [], (g) => g.set(sources.uplink.counters.acknowledged));
  gauge('gatehouse_uplink_reconnects_total', 'Reconnection attempts', [], (g) => g.set(sources.uplink.counters.reconnects));
  gauge('gatehouse_device_online', '1 while a device answers, 0 while offline', ['device'], (g) => {
    for (const device of sources.devices()) g.set({ device: device.device }, device.status === 'online' ? 1 : 0);
  });
  gauge('gatehouse_device_errors_total', 'Failed polls of a device', ['device'], (g) => {
    for (const device of sources.devices()) g.set({ device: device.device }, device.totalErrors);
  });
  return registry;
}

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics; anything else is a 404. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
