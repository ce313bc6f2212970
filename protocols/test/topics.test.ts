import { describe, expect, it } from 'vitest';
import { allGatewaysFilter, hubDeviceId, parseHubDeviceId, parseTopic, topicFor } from '../src/index.js';

describe('topics', () => {
  it('builds and parses every channel', () => {
    expect(topicFor('tower-a', 'gw-01', 'telemetry')).toBe('gatehouse/v1/tower-a/gw-01/telemetry');
    expect(parseTopic('gatehouse/v1/tower-a/gw-01/cmd/result')).toEqual({
      site: 'tower-a',
      gateway: 'gw-01',
      channel: 'cmd/result',
    });
  });

  it('does not parse topics outside the contract', () => {
    expect(parseTopic('gatehouse/v2/tower-a/gw-01/telemetry')).toBeUndefined();
    expect(parseTopic('gatehouse/v1/tower-a/gw-01/secrets')).toBeUndefined();
    expect(parseTopic('gatehouse/v1/tower-a')).toBeUndefined();
  });

  it('subscribes to a channel of every gateway', () => {
    expect(allGatewaysFilter('status')).toBe('gatehouse/v1/+/+/status');
  });
});

describe('hub device ids', () => {
  it('round-trips', () => {
    const id = hubDeviceId('tower-a', 'gw-01', 'meter-1');
    expect(id).toBe('tower-a.gw-01.meter-1');
    expect(parseHubDeviceId(id)).toEqual({ site: 'tower-a', gateway: 'gw-01', device: 'meter-1' });
  });
  it('rejects ids that are not three identifiers', () => {
    expect(parseHubDeviceId('tower-a.meter-1')).toBeUndefined();
    expect(parseHubDeviceId('tower-a.gw 01.meter-1')).toBeUndefined();
  });
});
