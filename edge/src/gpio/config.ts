import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';

/**
 * The gateway's own digital lines (`gpio:` in the agent's configuration): doors wired straight
 * to the gateway, with a door contact, an exit button and a lock relay.
 */

/** A line number as the kernel's sysfs GPIO interface numbers it (onoff's `new Gpio(n)`). */
const LineNumber = z.number().int().min(0).max(4095);

const InputLine = z.strictObject({
  line: LineNumber,
  /** The line reads low when active (a contact to ground with a pull-up). */
  active_low: z.boolean().default(false),
  /** A level must hold this long before it counts: contacts and buttons bounce for a few ms. */
  debounce_ms: z.number().int().min(0).max(10_000).default(50),
});

const OutputLine = z.strictObject({
  line: LineNumber,
  /** Drive the line low to energise (relay boards with active-low inputs). */
  active_low: z.boolean().default(false),
});

export const GpioDoor = z.strictObject({
  /** The id the door's events carry, and that an unlock_door command names. */
  device: Identifier,
  /** Active while the door is open. */
  contact: InputLine,
  /** Active while pressed: releases the lock for `exit_unlock_s` and lets the door open. */
  exit_button: InputLine.optional(),
  /** Active releases the lock (fail-secure: released only while energised). */
  lock_relay: OutputLine.optional(),
  /** An opening this long after a granted access (exit button, unlock) is not forced. */
  forced_window_ms: z.number().int().min(0).max(600_000).default(5_000),
  /** A door open longer than this raises door.held_open, once per opening. */
  held_open_after_ms: z.number().int().min(1_000).max(86_400_000).default(30_000),
  exit_unlock_s: z.number().int().min(1).max(3_600).default(5),
});

export const GpioConfig = z
  .strictObject({
    /** onoff: the kernel's GPIO lines (Linux); simulated: lines driven by tests and the demo. */
    driver: z.enum(['onoff', 'simulated']).default('onoff'),
    doors: z.array(GpioDoor).min(1),
  })
  .superRefine((gpio, ctx) => {
    const used = new Map<number, string>();
    const doors = new Set<string>();
    gpio.doors.forEach((door, index) => {
      if (doors.has(door.device)) ctx.addIssue({ code: 'custom', path: ['doors', index, 'device'], message: `door "${door.device}" is defined twice` });
      doors.add(door.device);
      for (const role of ['contact', 'exit_button', 'lock_relay'] as const) {
        const line = door[role]?.line;
        if (line === undefined) continue;
        const other = used.get(line);
        if (other) ctx.addIssue({ code: 'custom', path: ['doors', index, role, 'line'], message: `line ${line} is already the ${other}` });
        used.set(line, `${role} of ${door.device}`);
      }
    });
  });

export type GpioConfig = z.infer<typeof GpioConfig>;
export type GpioDoorConfig = z.infer<typeof GpioDoor>;
