import { describe, expect, it } from 'vitest';
import { LineEncoder, type TelemetryReading } from '../src/index.js';

const meter = { site: 'tower-a', gateway: 'gw-01', device: 'tower-a.gw-01.meter-1', kind: 'electric_meter' };
const reading = (point: string, ts: number, value: TelemetryReading['value'], quality: TelemetryReading['quality'] = 'good') => ({
  ...meter,
  point,
  ts,
  value,
  quality,
});
const SERIES = 'electric_meter,device=tower-a.gw-01.meter-1,gateway=gw-01,site=tower-a';

describe('the line encoder', () => {
  it('puts a device’s readings at one timestamp on one line, each value with its quality', () => {
    const [chunk] = new LineEncoder().encode([reading('voltage_l1_v', 1000, 230.5), reading('frequency_hz', 1000, 50, 'uncertain')], 100);
    expect(chunk).toEqual({
      text: `${SERIES} voltage_l1_v=230.5,voltage_l1_v.quality="good",frequency_hz=50,frequency_hz.quality="uncertain" 1000\n`,
      lines: 1,
    });
  });

  it('writes only the quality of a reading without a value, and text quoted', () => {
    const [chunk] = new LineEncoder().encode([reading('current_l1_a', 1000, null, 'bad'), reading('direction', 1000, 'up "fast"')], 100);
    expect(chunk?.text).toBe(`${SERIES} current_l1_a.quality="bad",direction="up \\"fast\\"",direction.quality="good" 1000\n`);
  });

  it('starts a new line for a new timestamp, a new device, or a point repeated at one timestamp', () => {
    const other = { ...meter, device: 'tower-a.gw-01.meter-2' };
    const [chunk] = new LineEncoder().encode(
      [reading('a', 1000, 1), reading('a', 2000, 2), { ...reading('a', 2000, 3), ...other }, { ...reading('a', 2000, 4), ...other }],
      100,
    );
    const second = SERIES.replace('meter-1', 'meter-2');
    const q = 'a.quality="good"';
    expect(chunk?.text).toBe(
      [`${SERIES} a=1,${q} 1000`, `${SERIES} a=2,${q} 2000`, `${second} a=3,${q} 2000`, `${second} a=4,${q} 2000`, ''].join('\n'),
    );
  });

  it('cuts chunks at the line limit', () => {
    const chunks = new LineEncoder().encode([1, 2, 3, 4, 5].map((ts) => reading('a', ts, ts)), 2);
    expect(chunks.map((c) => c.lines)).toEqual([2, 2, 1]);
    expect(chunks.map((c) => c.text.trimEnd().split('\n').length)).toEqual([2, 2, 1]);
  });
});
