import type { SlaveMemory } from './memory.js';
import { answerPdu } from './pdu.js';
import { seededRandom } from '@gatehouse/protocols';
import { encodeRtuFrame, MAX_UNIT } from './rtu-framing.js';

/**
 * Faults an RTU slave can be told to commit, to exercise a master's error handling:
 *
 * - `crc`: the answer goes out with a corrupted CRC (noise on the line on the way back);
 * - `truncate`: only the first bytes of the answer go out (a slave reset or a line cut mid-frame);
 * - `wrong-unit`: the answer carries another unit id (a mis-addressed or confused device);
 * - `exception`: the slave answers with an exception code instead of executing the request;
 * - `silence`: no answer at all (a dead device, or a request lost to noise on the way in).
 *
 * `crc`, `truncate` and `wrong-unit` damage the answer after the request was executed, so a write
 * takes effect; `exception` and `silence` model a request that was never executed.
 */
export type FaultKind = 'crc' | 'truncate' | 'wrong-unit' | 'exception' | 'silence';

export const FAULT_KINDS: readonly FaultKind[] = ['crc', 'truncate', 'wrong-unit', 'exception', 'silence'];

/** Modbus exception 04, "server device failure": the default answer of the `exception` fault. */
export const SERVER_DEVICE_FAILURE = 0x04;

export interface FaultSpec {
  kind: FaultKind;
  /** Commit the fault on the next `count` requests to the unit only, then behave again. */
  count?: number;
  /** Commit the fault on each request with this probability (0..1), drawn from a seeded PRNG. */
  probability?: number;
  /** Seed of that PRNG (default 1), so that a run repeats exactly. */
  seed?: number;
  /** `exception`: the exception code to answer with (default 04, server device failure). */
  exceptionCode?: number;
  /** `wrong-unit`: the unit id to answer with (default the next unit id). */
  unit?: number;
  /** `truncate`: how many bytes of the answer to send (default half of it). */
  bytes?: number;
}

/** Unit id → the faults of that unit, tried in order; the first that fires applies. */
export type FaultPlan =
  | ReadonlyMap<number, FaultSpec | readonly FaultSpec[]>
  | Readonly<Record<number, FaultSpec | readonly FaultSpec[]>>;

export class FaultError extends Error {
  override name = 'FaultError';
}

interface ArmedFault {
  spec: FaultSpec;
  remaining: number;
  random: (() => number) | undefined;
}

/** The faults of every unit and their state (counts left, PRNG), replaceable at run time. */
export class FaultInjector {
  private armed = new Map<number, ArmedFault[]>();

  constructor(plan: FaultPlan = {}) {
    this.set(plan);
  }

  /** Replaces every unit's faults; counts and PRNGs start afresh. Throws FaultError on a bad spec. */
  set(plan: FaultPlan): void {
    const entries: Array<[number, FaultSpec | readonly FaultSpec[]]> =
      plan instanceof Map
        ? [...(plan as ReadonlyMap<number, FaultSpec | readonly FaultSpec[]>)]
        : Object.entries(plan as Readonly<Record<number, FaultSpec | readonly FaultSpec[]>>).map(([unit, specs]) => [
            Number(unit),
            specs,
          ]);
    const armed = new Map<number, ArmedFault[]>();
    for (const [unit, specs] of entries) {
      validateUnit(unit);
      const list = (Array.isArray(specs) ? specs : [specs]) as readonly FaultSpec[];
      armed.set(
        unit,
        list.map((spec) => {
          validateFault(unit, spec);
          return {
            spec: { ...spec }, // a copy: the caller's object may change, the plan may not
            remaining: spec.count ?? Infinity,
            random: spec.probability === undefined ? undefined : seededRandom(spec.seed ?? 1),
          };
        }),
      );
    }
    this.armed = armed;
  }

  /** The fault to commit on this request to `unit`, if any; a fault with a count uses one up. */
  draw(unit: number): FaultSpec | undefined {
    for (const fault of this.armed.get(unit) ?? []) {
      if (fault.remaining <= 0) continue;
      if (fault.random && fault.random() >= fault.spec.probability!) continue;
      fault.remaining -= 1;
      return fault.spec;
    }
    return undefined;
  }
}

const isWhole = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;

function validateUnit(unit: number): void {
  if (!isWhole(unit, 1, MAX_UNIT)) throw new FaultError(`faults for unit ${unit}: expected a unit id 1..${MAX_UNIT}`);
}

function validateFault(unit: number, spec: FaultSpec): void {
  const where = `fault ${JSON.stringify(spec.kind)} of unit ${unit}`;
  const fail = (message: string) => {
    throw new FaultError(`${where}: ${message}`);
  };
  if (!FAULT_KINDS.includes(spec.kind)) fail(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  if (spec.count !== undefined && !isWhole(spec.count, 1, Infinity)) fail(`count ${spec.count} must be a whole number ≥ 1`);
  if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) {
    fail(`probability ${spec.probability} must be within 0..1`);
  }
  if (spec.seed !== undefined && !Number.isInteger(spec.seed)) fail(`seed ${spec.seed} must be an integer`);
  if (spec.exceptionCode !== undefined && !isWhole(spec.exceptionCode, 1, 255)) {
    fail(`exception code ${spec.exceptionCode} must be 1..255`);
  }
  if (spec.unit !== undefined && (!isWhole(spec.unit, 0, 255) || spec.unit === unit)) {
    fail(`unit ${spec.unit} must be 0..255 and not ${unit} itself`);
  }
  if (spec.bytes !== undefined && !isWhole(spec.bytes, 1, Infinity)) fail(`bytes ${spec.bytes} must be a whole number ≥ 1`);
}

/** Whether a request still takes effect in the slave's memory under `fault`. */
export function executesRequest(fault: FaultSpec | undefined): boolean {
  return fault?.kind !== 'silence' && fault?.kind !== 'exception';
}

/**
 * The bytes the slave puts on the line in answer to `requestPdu` for `unit`, as `fault` damages
 * them; undefined for no answer. Executes the request (writes included) unless the fault says the
 * request never took effect.
 */
export function answerFrame(unit: number, requestPdu: Buffer, memory: SlaveMemory, fault?: FaultSpec): Buffer | undefined {
  const fc = requestPdu[0] ?? 0;
  switch (fault?.kind) {
    case undefined:
      return encodeRtuFrame(unit, answerPdu(requestPdu, memory));
    case 'silence':
      return undefined;
    case 'exception':
      return encodeRtuFrame(unit, Buffer.from([fc | 0x80, fault.exceptionCode ?? SERVER_DEVICE_FAILURE]));
    case 'crc': {
      const frame = encodeRtuFrame(unit, answerPdu(requestPdu, memory));
      frame[frame.length - 2]! ^= 0xff;
      frame[frame.length - 1]! ^= 0xff;
      return frame;
    }
    case 'truncate': {
      const frame = encodeRtuFrame(unit, answerPdu(requestPdu, memory));
      const bytes = Math.min(fault.bytes ?? Math.floor(frame.length / 2), frame.length - 1);
      return frame.subarray(0, Math.max(1, bytes));
    }
    case 'wrong-unit':
      return encodeRtuFrame(fault.unit ?? (unit % MAX_UNIT) + 1, answerPdu(requestPdu, memory));
  }
}

/**
 * Reads a fault from its command-line form `UNIT:KIND[=VALUE][:count=N][:p=P][:seed=S]`, where
 * VALUE is the exception code (`exception=6`), the unit id answered with (`wrong-unit=9`) or the
 * bytes sent (`truncate=5`). Examples: `2:silence`, `3:crc:count=2`, `1:exception=6:p=0.1:seed=7`.
 */
export function parseFault(text: string): { unit: number; fault: FaultSpec } {
  const [unitText = '', kindText = '', ...options] = text.split(':');
  const unit = Number(unitText);
  const [kind, valueText] = kindText.split('=') as [string, string | undefined];
  if (!FAULT_KINDS.includes(kind as FaultKind)) {
    throw new FaultError(`fault "${text}": kind "${kind}" must be one of ${FAULT_KINDS.join(', ')}`);
  }
  const number = (name: string, value: string) => {
    const parsed = Number(value);
    if (value === '' || !Number.isFinite(parsed)) throw new FaultError(`fault "${text}": ${name} "${value}" is not a number`);
    return parsed;
  };
  const fault: FaultSpec = { kind: kind as FaultKind };
  if (valueText !== undefined) {
    if (kind === 'exception') fault.exceptionCode = number('exception code', valueText);
    else if (kind === 'wrong-unit') fault.unit = number('unit', valueText);
    else if (kind === 'truncate') fault.bytes = number('bytes', valueText);
    else throw new FaultError(`fault "${text}": ${kind} takes no value`);
  }
  for (const option of options) {
    const [name, value = ''] = option.split('=') as [string, string | undefined];
    if (name === 'count') fault.count = number('count', value);
    else if (name === 'p') fault.probability = number('p', value);
    else if (name === 'seed') fault.seed = number('seed', value);
    else throw new FaultError(`fault "${text}": unknown option "${option}" (count=N, p=P, seed=S)`);
  }
  validateUnit(unit);
  validateFault(unit, fault);
  return { unit, fault };
}

/** Gathers parsed faults into a plan, keeping each unit's faults in the order given. */
export function faultPlanOf(faults: ReadonlyArray<{ unit: number; fault: FaultSpec }>): Map<number, FaultSpec[]> {
  const plan = new Map<number, FaultSpec[]>();
  for (const { unit, fault } of faults) plan.set(unit, [...(plan.get(unit) ?? []), fault]);
  return plan;
}
