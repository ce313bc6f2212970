import { describe, expect, it } from 'vitest';
import { StoreError } from '../src/index.js';
import { WriteQueue } from '../src/store/telemetry/influx/write-queue.js';

/** A chunk as the line encoder makes it: lines ending in newlines. */
const chunk = (...lines: string[]) => ({ text: lines.map((line) => `${line}\n`).join(''), lines: lines.length });
const linesOf = (body: string) => body.trimEnd().split('\n');

/** A send function that holds each request until the test lets it go. */
function controlledSend() {
  const requests: Array<{ lines: string[]; finish: (error?: StoreError) => void }> = [];
  const send = (body: string) =>
    new Promise<void>((resolve, reject) => requests.push({ lines: linesOf(body), finish: (error) => (error ? reject(error) : resolve()) }));
  return { requests, send };
}

const options = { maxLines: 4, maxInFlight: 1, attempts: 3, backoffMs: 1 };
const unavailable = () => new StoreError('unavailable', 'influxdb', 'InfluxDB at http://x is unreachable');

describe('the InfluxDB write queue', () => {
  it('sends at once when a slot is free, and gathers what arrives meanwhile into full requests', async () => {
    const { requests, send } = controlledSend();
    const queue = new WriteQueue(send, options);
    const first = queue.write([chunk('a')]);
    const later = [queue.write([chunk('b', 'c')]), queue.write([chunk('d', 'e')]), queue.write([chunk('f')])];
    expect(requests.map((r) => r.lines)).toEqual([['a']]);
    requests[0]?.finish();
    await first;
    // b,c and d,e make a full request; f waits for the next.
    expect(requests.map((r) => r.lines)).toEqual([['a'], ['b', 'c', 'd', 'e']]);
    requests[1]?.finish();
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(requests.map((r) => r.lines)).toEqual([['a'], ['b', 'c', 'd', 'e'], ['f']]);
    requests[2]?.finish();
    await Promise.all(later);
  });

  it('never splits a chunk: chunks that together exceed a request go in separate requests', async () => {
    const sent: string[][] = [];
    const queue = new WriteQueue(async (body) => void sent.push(linesOf(body)), { ...options, maxInFlight: 2 });
    await queue.write([chunk('1', '2', '3'), chunk('4', '5'), chunk('6')]);
    expect(sent).toEqual([['1', '2', '3'], ['4', '5', '6']]);
  });

  it('retries while the store is unavailable, then fails every write of the request with that error', async () => {
    let calls = 0;
    const queue = new WriteQueue(async () => {
      calls++;
      throw unavailable();
    }, options);
    await expect(queue.write([chunk('a')])).rejects.toMatchObject({ code: 'unavailable', message: 'InfluxDB at http://x is unreachable' });
    expect(calls).toBe(3);
    let healed = 0;
    const flaky = new WriteQueue(async () => {
      if (++healed < 3) throw unavailable();
    }, options);
    await expect(flaky.write([chunk('a')])).resolves.toBeUndefined();
  });

  it('does not retry what the store rejected', async () => {
    let calls = 0;
    const queue = new WriteQueue(async () => {
      calls++;
      throw new StoreError('rejected', 'influxdb', 'field type conflict');
    }, options);
    await expect(queue.write([chunk('a')])).rejects.toMatchObject({ code: 'rejected' });
    expect(calls).toBe(1);
  });
});
