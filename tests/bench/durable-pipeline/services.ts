import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Influxd } from '../../support/influxd.js';
import { startMosquitto, type Mosquitto } from '../../support/mosquitto.js';
import { metric } from '../../support/metrics.js';
import { HUB_CLI } from '../../support/paths.js';
import { freePort, startNode, type Proc } from '../../support/processes.js';

/**
 * Mosquitto as production runs it in front of the hub: persistent, and queueing without a bound
 * what waits for a hub that is down or holding back (the default, 1,000 per client, would drop
 * the rest of an outage's backlog silently). `max_inflight_messages` is the window of QoS 1
 * messages the broker sends a subscriber before its PUBACKs (default 20).
 */
export function brokerConfig(inflight = 20): string[] {
  return ['max_queued_messages 0', `max_inflight_messages ${inflight}`];
}

export interface PipelineServices {
  broker: Mosquitto;
  influxd: Influxd;
  hub: HubProcess;
  close(): Promise<void>;
}

/** The hub as a separate process against the external broker and influxd, restartable. */
export class HubProcess {
  proc: Proc | undefined;
  httpUrl = '';

  constructor(
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async start(): Promise<void> {
    const proc = startNode('hub', HUB_CLI, [], this.env);
    this.proc = proc;
    const ready = await proc.waitForLog('hub ready', 60_000);
    this.httpUrl = String(ready.http_url);
  }

  /** A figure from its GET /metrics, summed over labels. */
  metric(name: string): Promise<number> {
    return metric(`${this.httpUrl}/metrics`, name);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc?.stop(signal);
    this.proc = undefined;
  }
}

export const INFLUX_DATABASE = 'gatehouse';

export async function startPipelineServices(options: { brokerInflight?: number; hubId?: string } = {}): Promise<PipelineServices> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-pipeline-'));
  const broker = await startMosquitto(brokerConfig(options.brokerInflight));
  const influxd = await Influxd.create();
  const hub = new HubProcess({
    GATEHOUSE_MQTT_URL: broker.url,
    GATEHOUSE_INFLUX_URL: influxd.url,
    GATEHOUSE_INFLUX_DATABASE: INFLUX_DATABASE,
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_HTTP_PORT: String(await freePort()),
    GATEHOUSE_HUB_ID: options.hubId ?? 'bench',
  });
  await hub.start();
  return {
    broker,
    influxd,
    hub,
    close: async () => {
      await hub.stop();
      await broker.close();
      await influxd.remove();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
