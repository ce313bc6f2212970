import { describe, expect, it } from 'vitest';
import { fieldIssues, type AlarmTransition } from '@gatehouse/protocols';
import { AgentConfig, EventLossAlarm, parseConfig } from '../src/index.js';

const minimal = {
  site: 'tower-a',
  gateway: 'gw-01',
  uplink: { url: 'mqtt://127.0.0.1:1883' },
  buses: [{ id: 'security', transport: 'tcp', host: '10.0.0.5' }],
  devices: [{ id: 'door-lobby', bus: 'security', unit: 11, profile: 'reference-door-controller' }],
};

const issuesOf = (document: unknown): string[] => {
  const result = AgentConfig.safeParse(document);
  return result.success ? [] : fieldIssues(result.error).map((issue) => `${issue.path}: ${issue.message}`);
};

describe('the gpio and lpr sections of the agent configuration', () => {
  it('are optional, and filled with defaults when given', () => {
    expect(parseConfig(JSON.stringify(minimal), 'edge.yaml', {}).config.lpr).toBeUndefined();
    const { config } = parseConfig(
      JSON.stringify({ ...minimal, lpr: {}, gpio: { doors: [{ device: 'door-side', contact: { line: 17 }, lock_relay: { line: 22 } }] } }),
      'edge.yaml',
      {},
    );
    expect(config.lpr).toEqual({ host: '127.0.0.1', port: 9465, max_body_kb: 8192 });
    expect(config.gpio).toMatchObject({ driver: 'onoff', doors: [{ contact: { line: 17, active_low: false, debounce_ms: 50 }, forced_window_ms: 5000, held_open_after_ms: 30_000 }] });
  });

  it('name the field at fault', () => {
    expect(
      issuesOf({
        ...minimal,
        lpr: { port: 70_000, colour: 'blue' },
        gpio: { driver: 'sysfs', doors: [{ device: 'door-lobby', contact: { line: 17, debounce_ms: -1 } }] },
      }),
    ).toEqual([
      'gpio.driver: Invalid option: expected one of "onoff"|"simulated"',
      'gpio.doors[0].contact.debounce_ms: Too small: expected number to be >=0',
      'lpr.port: Too big: expected number to be <=65535',
      'lpr: Unrecognized key: "colour"',
    ]);
    expect(issuesOf({ ...minimal, gpio: { doors: [{ device: 'door-lobby', contact: { line: 17 } }] } })).toEqual([
      'gpio.doors[0].device: "door-lobby" is already a device on a bus',
    ]);
  });
});

describe('the alarm for lost access events', () => {
  it('is raised once per episode and cleared after a quiet spell', () => {
    let now = 0;
    const alarms: AlarmTransition[] = [];
    const alarm = new EventLossAlarm((transition) => alarms.push(transition), 60_000, () => now);
    alarm.lost('door-1', 9, 9);
    now = 30_000;
    alarm.lost('door-1', 2, 11);
    alarm.tick();
    now = 89_999;
    alarm.tick();
    expect(alarms.map((a) => a.state)).toEqual(['raised']);
    now = 90_000;
    alarm.tick();
    expect(alarms.map((a) => [a.state, a.device, a.rule, a.value])).toEqual([
      ['raised', 'door-1', 'event-buffer-loss', 9],
      ['cleared', 'door-1', 'event-buffer-loss', 11],
    ]);
  });
});
