import { z } from 'zod';
import { describeIssues, fieldIssues, pointDefinition, type CommandPayload, type ModbusWrite, type RegisterValue } from '@gatehouse/protocols';
import { encodePoint, modbusPointsOf, type AnyDeviceProfile, type DeviceProfile, type ModbusPoint } from '@gatehouse/devices';

/**
 * Commands from the hub, checked against what the gateway knows of the device before anything
 * touches a bus: pure functions from a command and its target to a plan, or to a refusal with a
 * named code. Encoding goes through the profile (`encodePoint`), as decoding does.
 */

/** Why a command was refused or failed: a code a program can act on, and a message a person can. */
export interface CommandError {
  code: CommandErrorCode;
  message: string;
}

export const COMMAND_ERRORS = {
  invalid_command: 'the payload is not a command (its fields are named)',
  unknown_device: 'the gateway has no such device',
  action_not_supported: 'the action does not fit the device kind',
  unknown_point: "the point is not in the device's profile",
  not_writable: 'the point may not be written',
  invalid_value: 'a parameter has the wrong type or is missing',
  value_out_of_range: "the value does not fit the point's register",
  expired: 'the command arrived after its timeout and was not executed',
  timeout: 'the command did not finish within its timeout',
  device_exception: 'the device refused the write (Modbus exception)',
  no_answer: 'the device did not answer the write',
  bus_stopped: 'the bus is stopped (the agent is shutting down)',
  duplicate_id: 'the id was used before; the command was not executed again',
  outcome_unknown: 'the gateway restarted while executing a command of this id',
} as const;
export type CommandErrorCode = keyof typeof COMMAND_ERRORS;

export const commandError = (code: CommandErrorCode, message: string): CommandError => ({ code, message });

/** What an id names at this gateway. */
export type CommandTarget =
  | { kind: 'modbus'; device: string; unit: number; profile: DeviceProfile }
  | { kind: 'gpio-door'; device: string; hasLockRelay: boolean }
  | { kind: 'other'; device: string; profile: AnyDeviceProfile };

export type CommandPlan =
  | { kind: 'modbus-write'; device: string; unit: number; point: string; value: RegisterValue; write: ModbusWrite }
  | { kind: 'gpio-unlock'; device: string; seconds: number };

export type Planned = { ok: true; plan: CommandPlan } | { ok: false; error: CommandError };

const refuse = (code: CommandErrorCode, message: string): Planned => ({ ok: false, error: commandError(code, message) });

const UnlockParams = z.strictObject({ seconds: z.number().int().min(1).max(3_600).default(5) });
const OpenParams = z.strictObject({});
const WriteParams = z.strictObject({
  point: z.string().min(1),
  value: z.union([z.number().finite(), z.boolean(), z.string().max(256)]),
});

function params<T extends z.ZodType>(schema: T, value: unknown): { ok: true; value: z.infer<T> } | { ok: false; planned: Planned } {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = fieldIssues(result.error).map((issue) => ({ ...issue, path: `params.${issue.path}`.replace('params.(root)', 'params') }));
  return { ok: false, planned: refuse('invalid_value', describeIssues(issues)) };
}

/** The protocol data units that write a point: FC 5 for a coil, FC 6 or 16 for holding registers. */
export function writeOf(point: ModbusPoint, value: RegisterValue): { ok: true; write: ModbusWrite } | { ok: false; error: CommandError } {
  if (point.table === 'coil') return { ok: true, write: { fc: 5, address: point.address, value: Boolean(value) } };
  if (point.table !== 'holding') return { ok: false, error: commandError('not_writable', `${point.point} is in the read-only ${point.table} table`) };
  // A flag in one bit of a register shares it with others: writing the word would change them.
  if (point.layout.type === 'bool') return { ok: false, error: commandError('not_writable', `${point.point} is one bit of a register and cannot be written alone`) };
  if (typeof value === 'number' && point.layout.type !== 'string' && !point.layout.type.startsWith('float')) {
    const raw = (value - point.offset) / point.scale;
    if (Math.abs(raw - Math.round(raw)) > 1e-9 * Math.max(1, Math.abs(raw))) {
      return { ok: false, error: commandError('value_out_of_range', `${value} is not a whole number of ${point.point}'s steps of ${point.scale}`) };
    }
  }
  let words: number[];
  try {
    words = encodePoint(point, value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return { ok: false, error: commandError('value_out_of_range', `${String(value)} does not fit ${point.point} (${point.layout.type}): ${error.message}`) };
  }
  const write: ModbusWrite = words.length === 1 ? { fc: 6, address: point.address, value: words[0]! } : { fc: 16, address: point.address, values: words };
  return { ok: true, write };
}

/** A write of a named point of a Modbus device, checked against the profile and the catalogue. */
function pointWrite(target: Extract<CommandTarget, { kind: 'modbus' }>, name: string, value: RegisterValue): Planned {
  const point = modbusPointsOf(target.profile).find((candidate) => candidate.point === name);
  if (!point) return refuse('unknown_point', `${target.device} (${target.profile.id}) has no point "${name}"`);
  if (!point.writable) return refuse('not_writable', `${name} of ${target.device} is not writable (the profile does not mark it writable)`);
  const type = pointDefinition(target.profile.kind, name)?.type;
  const given = typeof value;
  if (type !== undefined && given !== type) return refuse('invalid_value', `params.value: ${name} takes a ${type}, not a ${given}`);
  const encoded = writeOf(point, value);
  if (!encoded.ok) return { ok: false, error: encoded.error };
  return { ok: true, plan: { kind: 'modbus-write', device: target.device, unit: target.unit, point: name, value, write: encoded.write } };
}

/**
 * The plan for a command, or why it may not run: the device must be known, the action must fit
 * its kind (open_barrier a barrier gate, unlock_door an access controller or a door on the
 * gateway's lines, write_register any Modbus device), the point must be writable and the value
 * must fit it.
 */
export function planCommand(command: CommandPayload, target: CommandTarget | undefined): Planned {
  if (!target) return refuse('unknown_device', `this gateway has no device "${command.device}"`);
  const { action } = command;
  if (target.kind === 'other') {
    return refuse('action_not_supported', `${target.device} speaks ${target.profile.protocol}: the gateway writes only to Modbus devices and to its own lines`);
  }
  if (target.kind === 'gpio-door') {
    if (action !== 'unlock_door') return refuse('action_not_supported', `${target.device} is a door on the gateway's lines: it takes unlock_door only`);
    const parsed = params(UnlockParams, command.params);
    if (!parsed.ok) return parsed.planned;
    if (!target.hasLockRelay) return refuse('not_writable', `door ${target.device} has no lock relay configured (gpio.doors[].lock_relay)`);
    return { ok: true, plan: { kind: 'gpio-unlock', device: target.device, seconds: parsed.value.seconds } };
  }
  const kind = target.profile.kind;
  switch (action) {
    case 'open_barrier': {
      if (kind !== 'barrier_gate') return refuse('action_not_supported', `${target.device} is a ${kind}, not a barrier_gate`);
      const parsed = params(OpenParams, command.params);
      if (!parsed.ok) return parsed.planned;
      return pointWrite(target, 'open_command', true);
    }
    case 'unlock_door': {
      if (kind !== 'access_controller') return refuse('action_not_supported', `${target.device} is a ${kind}, not an access_controller`);
      const parsed = params(UnlockParams, command.params);
      if (!parsed.ok) return parsed.planned;
      return pointWrite(target, 'unlock_s', parsed.value.seconds);
    }
    case 'write_register': {
      const parsed = params(WriteParams, command.params);
      if (!parsed.ok) return parsed.planned;
      return pointWrite(target, parsed.value.point, parsed.value.value);
    }
  }
}
