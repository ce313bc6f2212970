import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../src/index.js';

const DEMO = fileURLToPath(new URL('../examples/demo.yaml', import.meta.url));

const minimal = {
  site: 'tower-a',
  gateway: 'gw-01',
  uplink: { url: 'mqtt://127.0.0.1:1883' },
  buses: [{ id: 'plant-room', transport: 'tcp', host: '10.0.0.5' }],
  devices: [{ id: 'meter-1', bus: 'plant-room', unit: 1, profile: 'reference-3ph-meter' }],
};

function pathsOf(document: unknown): string[] {
  try {
    parseConfig(JSON.stringify(document), 'edge.yaml', {});
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.path);
    throw error;
  }
  return [];
}

describe('agent configuration', () => {
  it('loads the shipped example', () => {
    const loaded = loadConfigFile(DEMO, { GATEHOUSE_DATA_DIR: '/var/lib/gatehouse' });
    expect(loaded.config.devices).toHaveLength(11);
    expect(loaded.profiles.get('reference-3ph-meter')?.kind).toBe('electric_meter');
    expect(loaded.dataDir).toBe('/var/lib/gatehouse/edge/tower-a-gw-01');
    expect(loaded.version).toMatch(/^[0-9a-f]{12}$/);
  });

  it('fills the defaults an installer would pick', () => {
    const { config } = parseConfig(JSON.stringify(minimal), 'edge.yaml', {});
    expect(config.buses[0]).toMatchObject({ port: 502, timeout_ms: 1000 });
    expect(config.devices[0]).toMatchObject({ poll_interval_ms: 5000, offline_after_failures: 3 });
    expect(config.uplink).toMatchObject({ batch_max_readings: 1000, in_flight: 64, backlog_messages_per_s: 200 });
    expect(config.outbox.quota_mb).toBe(512);
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9464 });
  });

  it.each([
    ['a unit id above 247', { devices: [{ ...minimal.devices[0], unit: 300 }] }, 'devices[0].unit'],
    ['a device on a bus that does not exist', { devices: [{ ...minimal.devices[0], bus: 'roof' }] }, 'devices[0].bus'],
    ['a profile that is not shipped', { devices: [{ ...minimal.devices[0], profile: 'dtsu999' }] }, 'devices[0].profile'],
    ['a site id with a topic separator', { site: 'tower/a' }, 'site'],
    ['an uplink that is not MQTT', { uplink: { url: 'http://hub' } }, 'uplink.url'],
    ['an unknown transport', { buses: [{ id: 'x', transport: 'carrier-pigeon', host: 'h' }] }, 'buses[0].transport'],
    ['no devices', { devices: [] }, 'devices'],
    ['a misspelt key', { devices: [{ ...minimal.devices[0], pol_interval_ms: 100 }] }, 'devices[0]'],
    ['an outbox quota of nothing', { outbox: { quota_mb: 0 } }, 'outbox.quota_mb'],
  ])('rejects %s and names the field', (_what, change, path) => {
    expect(pathsOf({ ...minimal, ...change })).toContain(path);
  });

  it('takes a gateway that only listens to cameras, or only watches its own door lines', () => {
    const { site, gateway, uplink } = minimal;
    expect(pathsOf({ site, gateway, uplink, lpr: { port: 8081, cameras: ['cam-north-in'] } })).toEqual([]);
    expect(pathsOf({ site, gateway, uplink, gpio: { driver: 'simulated', doors: [{ device: 'door-side', contact: { line: 17 } }] } })).toEqual([]);
    expect(pathsOf({ site, gateway, uplink })).toEqual(['devices']);
  });

  it('rejects a device defined twice and a unit used twice on one bus', () => {
    const twice = [minimal.devices[0], { ...minimal.devices[0] }];
    expect(pathsOf({ ...minimal, devices: twice })).toEqual(['devices[1].id', 'devices[1].unit']);
  });

  it('loads a profile file named relative to the config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    const shipped = fileURLToPath(new URL('../../devices/models/reference-3ph-meter/profile.yaml', import.meta.url));
    writeFileSync(join(dir, 'my-meter.yaml'), readFileSync(shipped, 'utf8').replace('id: reference-3ph-meter', 'id: my-meter'));
    const config = { ...minimal, devices: [{ ...minimal.devices[0], profile: './my-meter.yaml' }] };
    writeFileSync(join(dir, 'edge.json'), JSON.stringify(config));
    expect(loadConfigFile(join(dir, 'edge.json'), {}).profiles.get('./my-meter.yaml')?.id).toBe('my-meter');
  });

  it('reports a YAML syntax error and a missing file as config errors', () => {
    expect(() => parseConfig('site: [', 'edge.yaml', {})).toThrow(ConfigError);
    expect(() => loadConfigFile('/nonexistent/edge.yaml', {})).toThrow(/cannot read/);
  });
});
