import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GatehouseEvent } from '@gatehouse/protocols';
import { DebouncedLines, GpioConfig, GpioDoor, GpioUnavailableError, openOnoffDriver, SimulatedLineDriver } from '../src/index.js';
import { silent } from './site-support.js';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 4, 1, 8, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('debounced inputs', () => {
  it('report a level only once it has held for the debounce time, and bounce not at all', () => {
    const driver = new SimulatedLineDriver();
    const lines = new DebouncedLines(driver);
    const seen: boolean[] = [];
    lines.watch(4, { debounceMs: 50 }, (active) => seen.push(active));
    expect(seen).toEqual([false]); // the level as the watch starts

    // A contact bouncing for 12 ms as it closes, then steady.
    for (const level of [1, 0, 1, 0, 1] as const) {
      driver.drive(4, level);
      vi.advanceTimersByTime(3);
    }
    vi.advanceTimersByTime(46);
    expect(seen).toEqual([false]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([false, true]);

    // A glitch shorter than the debounce time, back to the same level: no change to report.
    driver.drive(4, 0);
    vi.advanceTimersByTime(10);
    driver.drive(4, 1);
    vi.advanceTimersByTime(100);
    expect(seen).toEqual([false, true]);
  });

  it('turn an active-low line into logical levels, and stop when unwatched', () => {
    const driver = new SimulatedLineDriver();
    driver.drive(7, 1); // pulled up: inactive
    const lines = new DebouncedLines(driver);
    const seen: boolean[] = [];
    const stop = lines.watch(7, { debounceMs: 20, activeLow: true }, (active) => seen.push(active));
    driver.drive(7, 0);
    vi.advanceTimersByTime(20);
    stop();
    driver.drive(7, 1);
    vi.advanceTimersByTime(100);
    expect(seen).toEqual([false, true]);
  });

  it('set outputs with their polarity', () => {
    const driver = new SimulatedLineDriver();
    const lines = new DebouncedLines(driver);
    lines.set(9, false, { activeLow: true });
    expect(driver.level(9)).toBe(1);
    lines.set(9, true);
    expect(driver.level(9)).toBe(0);
  });
});

const CONTACT = 17;
const EXIT = 27;
const RELAY = 22;

function door(overrides: Record<string, unknown> = {}) {
  const config = GpioConfig.parse({
    driver: 'simulated',
    doors: [
      {
        device: 'door-east',
        contact: { line: CONTACT, debounce_ms: 20 },
        exit_button: { line: EXIT, active_low: true, debounce_ms: 20 },
        lock_relay: { line: RELAY },
        forced_window_ms: 5000,
        held_open_after_ms: 30_000,
        exit_unlock_s: 5,
        ...overrides,
      },
    ],
  }).doors[0]!;
  const driver = new SimulatedLineDriver();
  driver.drive(EXIT, 1); // the button's pull-up
  const events: GatehouseEvent[] = [];
  const gpio = new GpioDoor({ config, lines: new DebouncedLines(driver), emit: (event) => events.push(event), log: silent });
  const set = (line: number, level: 0 | 1) => {
    driver.drive(line, level);
    vi.advanceTimersByTime(25);
  };
  return { gpio, driver, events, set, types: () => events.map((event) => event.type) };
}

describe('a door on the gateway’s own lines', () => {
  it('raises door.forced when it opens with no access granted', () => {
    const { gpio, set, types, events } = door();
    gpio.start();
    set(CONTACT, 1);
    expect(types()).toEqual(['door.forced']);
    expect(events[0]).toMatchObject({ device: 'door-east', data: { source: 'gpio' } });
  });

  it('lets the door open after the exit button, which also releases the lock for its time', () => {
    const { gpio, driver, set, types } = door();
    gpio.start();
    set(EXIT, 0); // pressed
    expect(driver.level(RELAY)).toBe(1);
    set(EXIT, 1);
    vi.advanceTimersByTime(2000);
    set(CONTACT, 1);
    set(CONTACT, 0);
    expect(types()).toEqual([]);
    vi.advanceTimersByTime(3000);
    expect(driver.level(RELAY)).toBe(0); // locked again after 5 s
    // Long after the button, an opening is forced again.
    vi.advanceTimersByTime(10_000);
    set(CONTACT, 1);
    expect(types()).toEqual(['door.forced']);
  });

  it('pulses the lock relay for the seconds of a remote unlock, and lets the door open meanwhile', () => {
    const { gpio, driver, set, types } = door();
    gpio.start();
    gpio.unlock(8);
    expect(gpio.isReleased).toBe(true);
    vi.advanceTimersByTime(7_000);
    set(CONTACT, 1);
    expect(driver.level(RELAY)).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(driver.level(RELAY)).toBe(0);
    expect(driver.writes.filter((write) => write.line === RELAY).map((write) => write.level)).toEqual([0, 1, 0]);
    expect(types()).toEqual([]);
  });

  it('raises door.held_open once when the door stays open past its limit', () => {
    const { gpio, set, types } = door({ forced_window_ms: 0 });
    gpio.start();
    gpio.unlock(5);
    set(CONTACT, 1);
    vi.advanceTimersByTime(29_900);
    expect(types()).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(types()).toEqual(['door.held_open']);
    vi.advanceTimersByTime(120_000);
    expect(types()).toEqual(['door.held_open']);
    // Closed in time the next time: nothing.
    set(CONTACT, 0);
    gpio.unlock(5);
    set(CONTACT, 1);
    vi.advanceTimersByTime(10_000);
    set(CONTACT, 0);
    vi.advanceTimersByTime(60_000);
    expect(types()).toEqual(['door.held_open']);
  });

  it('takes a granted access it is told of as leave to open', () => {
    const { gpio, set, types } = door();
    gpio.start();
    gpio.grant();
    vi.advanceTimersByTime(4_000);
    set(CONTACT, 1);
    expect(types()).toEqual([]);
  });

  it('does not call a door found open at start-up forced, and locks on stop', () => {
    const { gpio, driver, types } = door();
    driver.drive(CONTACT, 1);
    gpio.start();
    gpio.unlock(60);
    gpio.stop();
    expect(driver.level(RELAY)).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(types()).toEqual([]);
  });

  it('refuses a remote unlock without a lock relay', () => {
    const { gpio } = door({ lock_relay: undefined });
    gpio.start();
    expect(() => gpio.unlock(5)).toThrow('no lock relay');
  });
});

describe('the gpio configuration', () => {
  it('names a line used twice', () => {
    const result = GpioConfig.safeParse({
      doors: [
        { device: 'a', contact: { line: 5 } },
        { device: 'b', contact: { line: 6 }, lock_relay: { line: 5 } },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => [issue.path.join('.'), issue.message])).toEqual([
      ['doors.1.lock_relay.line', 'line 5 is already the contact of a'],
    ]);
  });
});

describe('onoff, the real driver', () => {
  it('is loaded only when asked for, and says plainly when this machine has no GPIO', async () => {
    vi.useRealTimers();
    await expect(openOnoffDriver()).rejects.toBeInstanceOf(GpioUnavailableError);
  });
});
