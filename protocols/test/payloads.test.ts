import { describe, expect, it } from 'vitest';
import { decodePayload } from '../src/index.js';

const ts = Date.UTC(2026, 10, 22, 8, 0, 0);
const reading = { device: 'meter-1', point: 'voltage_l1_v', ts, value: 230.4, quality: 'good' };

function issuesOf(result: ReturnType<typeof decodePayload>): string[] {
  return result.ok ? [] : result.issues.map((issue) => issue.path);
}

describe('telemetry payload', () => {
  it('accepts a batch of readings', () => {
    const result = decodePayload('telemetry', JSON.stringify({ v: 1, seq: 7, readings: [reading] }));
    expect(result).toEqual({ ok: true, payload: { v: 1, seq: 7, readings: [reading] } });
  });

  it('accepts a bad-quality reading without a value', () => {
    const bad = { ...reading, value: null, quality: 'bad' };
    expect(decodePayload('telemetry', JSON.stringify({ v: 1, seq: 0, readings: [bad] })).ok).toBe(true);
  });

  it.each([
    ['a timestamp in seconds', { ...reading, ts: Math.floor(ts / 1000) }, 'readings[0].ts'],
    ['an unknown quality', { ...reading, quality: 'fine' }, 'readings[0].quality'],
    ['a device id with a topic separator', { ...reading, device: 'a/b' }, 'readings[0].device'],
    ['a point that is not a catalogue name', { ...reading, point: 'Voltage L1' }, 'readings[0].point'],
    ['a value that is an object', { ...reading, value: { x: 1 } }, 'readings[0].value'],
  ])('rejects %s and names the field', (_what, bad, path) => {
    expect(issuesOf(decodePayload('telemetry', JSON.stringify({ v: 1, seq: 1, readings: [bad] })))).toContain(path);
  });

  it('rejects a batch without a sequence number', () => {
    expect(issuesOf(decodePayload('telemetry', JSON.stringify({ v: 1, readings: [reading] })))).toEqual(['seq']);
  });

  it('rejects an unknown schema version', () => {
    expect(issuesOf(decodePayload('telemetry', JSON.stringify({ v: 2, seq: 1, readings: [reading] })))).toEqual(['v']);
  });

  it('rejects a payload that is not JSON, without throwing', () => {
    const result = decodePayload('telemetry', Buffer.from('{"v":1,'));
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.issues[0]?.message).toMatch(/^not JSON/);
  });
});

describe('status payload', () => {
  const birth = { v: 1, state: 'online', ts, agent_version: '0.1.0', config_version: '3', boot_id: 'b1' };
  it('accepts a birth and a death', () => {
    expect(decodePayload('status', JSON.stringify(birth)).ok).toBe(true);
    expect(decodePayload('status', JSON.stringify({ ...birth, state: 'offline' })).ok).toBe(true);
  });
  it('rejects a status without a boot id', () => {
    const { boot_id: _omitted, ...noBoot } = birth;
    expect(issuesOf(decodePayload('status', JSON.stringify(noBoot)))).toEqual(['boot_id']);
  });
});

describe('events, alarms, devices, config and commands', () => {
  it('accepts a plate read and rejects an unknown event type', () => {
    const event = { device: 'cam-1', type: 'plate.read', ts, data: { plate: '粤B12345', confidence: 0.97 } };
    expect(decodePayload('events', JSON.stringify({ v: 1, seq: 3, events: [event] })).ok).toBe(true);
    const unknown = { ...event, type: 'plate.guessed' };
    expect(issuesOf(decodePayload('events', JSON.stringify({ v: 1, seq: 3, events: [unknown] })))).toEqual([
      'events[0].type',
    ]);
  });

  it('accepts a raised alarm and rejects an unknown severity', () => {
    const alarm = { device: 'lift-2', rule: 'trapped', state: 'raised', severity: 'critical', ts, message: 'trapped' };
    expect(decodePayload('alarms', JSON.stringify({ v: 1, seq: 9, alarms: [alarm] })).ok).toBe(true);
    const bad = { ...alarm, severity: 'urgent' };
    expect(issuesOf(decodePayload('alarms', JSON.stringify({ v: 1, seq: 9, alarms: [bad] })))).toEqual([
      'alarms[0].severity',
    ]);
  });

  it('accepts an inventory and rejects an unknown device kind', () => {
    const comm = { status: 'offline', reason: 'timeout', last_good_read: null, consecutive_failures: 3, total_errors: 3 };
    const entry = { device: 'meter-1', kind: 'electric_meter', profile: 'x', comm };
    expect(decodePayload('devices', JSON.stringify({ v: 1, ts, devices: [entry] })).ok).toBe(true);
    expect(
      issuesOf(decodePayload('devices', JSON.stringify({ v: 1, ts, devices: [{ ...entry, kind: 'toaster' }] }))),
    ).toEqual(['devices[0].kind']);
  });

  it('accepts a desired config', () => {
    expect(decodePayload('config', JSON.stringify({ v: 1, version: '4', issued_at: ts, config: {} })).ok).toBe(true);
  });

  it('fills command defaults and rejects a short correlation id', () => {
    const cmd = { v: 1, id: 'c0ffee-0001', ts, device: 'gate-1', action: 'open_barrier' };
    const result = decodePayload('cmd', JSON.stringify(cmd));
    expect(result.ok && result.payload.timeout_ms).toBe(10_000);
    expect(issuesOf(decodePayload('cmd', JSON.stringify({ ...cmd, id: 'x' })))).toEqual(['id']);
  });

  it('accepts a command result that names its error', () => {
    const result = { v: 1, id: 'c0ffee-0001', ts, status: 'rejected', error: { code: 'not_writable', message: 'm' } };
    expect(decodePayload('cmd/result', JSON.stringify(result)).ok).toBe(true);
  });
});
