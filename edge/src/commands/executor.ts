import type { Logger } from 'pino';
import {
  decodePayload,
  describeIssues,
  SCHEMA_VERSION,
  type CommandPayload,
  type CommandResultPayload,
  type ModbusResult,
} from '@gatehouse/protocols';
import type { EventBus } from '../events/event-buffer-reader.js';
import { commandError, planCommand, type CommandError, type CommandPlan, type CommandTarget } from './plan.js';

type Status = CommandResultPayload['status'];
type FinalStatus = Exclude<Status, 'duplicate'>;

/**
 * What the gateway keeps of a command id (in the outbox's state, `command/{id}`): that it started
 * (written before anything touches a device), then its result (written in the same transaction
 * as the result message). A repeated id is answered from here and never executed again.
 */
export type CommandRecord =
  | { status: 'started'; received: number }
  | { status: FinalStatus; received: number; ts: number; error?: CommandError; data?: Record<string, unknown> };

export const commandKey = (id: string): string => `command/${id}`;
const COMMAND_PREFIX = 'command/';

export interface CommandStore {
  getState<T>(key: string): T | undefined;
  putState(state: Readonly<Record<string, unknown>>): Promise<void>;
  stateEntries<T>(prefix: string): IterableIterator<{ key: string; value: T }>;
}

export interface CommandExecutorOptions {
  /** What a device id names here: a Modbus device, a door on the gateway's lines, or another device. */
  targetOf: (device: string) => CommandTarget | undefined;
  /** The bus a Modbus device is on; its write goes through the bus's queue, between polls. */
  busOf: (device: string) => EventBus | undefined;
  /** Releases a gateway-wired door's lock for `seconds`. */
  unlockDoor: (device: string, seconds: number) => void;
  store: CommandStore;
  /** Queues the result for `…/cmd/result` through the outbox, with `state` in the same transaction. */
  publish: (result: CommandResultPayload, state?: Readonly<Record<string, unknown>>) => Promise<void>;
  log: Logger;
  /** How long a command id is remembered. */
  retentionMs?: number;
  now?: () => number;
}

const DEFAULT_RETENTION_MS = 7 * 86_400_000;
const ID = /^.{8,64}$/s;

/**
 * Executes the hub's commands: each is validated against the device's profile, run once (by its
 * id, across restarts), within its timeout, and answered on `…/cmd/result` through the outbox.
 */
export class CommandExecutor {
  private readonly now: () => number;
  private readonly inFlight = new Map<string, Promise<CommandRecord>>();
  readonly counters: Record<Status, number> & { unanswerable: number } = {
    ok: 0,
    failed: 0,
    rejected: 0,
    timeout: 0,
    duplicate: 0,
    unanswerable: 0,
  };

  constructor(private readonly options: CommandExecutorOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Handles one message from `…/cmd`; resolves with the result once it is queued (undefined for
   * a message without an id to answer to). Never throws.
   */
  async handle(raw: Uint8Array | string): Promise<CommandResultPayload | undefined> {
    try {
      const decoded = decodePayload('cmd', raw);
      if (decoded.ok) return await this.once(decoded.payload.id, () => this.execute(decoded.payload));
      const message = describeIssues(decoded.issues);
      const id = idOf(raw);
      this.options.log.warn({ id, issues: decoded.issues }, `command refused: ${message}`);
      if (id === undefined) {
        this.counters.unanswerable++;
        return undefined;
      }
      const received = this.now();
      return await this.once(id, async () => this.finish(received, 'rejected', commandError('invalid_command', message)));
    } catch (error) {
      this.options.log.error({ err: error }, 'command handling failed');
      return undefined;
    }
  }

  /** Runs `run` for an id seen for the first time; a repeated id gets `duplicate` with the first result. */
  private async once(id: string, run: () => Promise<CommandRecord>): Promise<CommandResultPayload> {
    const running = this.inFlight.get(id);
    const stored = running ? undefined : this.options.store.getState<CommandRecord>(commandKey(id));
    if (running || stored) return this.duplicate(id, running ? await running : stored!);
    const pending = run().then(async (record) => {
      const result = this.resultOf(id, record);
      await this.options.publish(result, { [commandKey(id)]: record });
      return record;
    });
    this.inFlight.set(id, pending);
    try {
      const record = await pending;
      this.counters[record.status as FinalStatus]++;
      return this.resultOf(id, record);
    } finally {
      this.inFlight.delete(id);
    }
  }

  private async duplicate(id: string, first: CommandRecord): Promise<CommandResultPayload> {
    const error =
      first.status === 'started'
        ? commandError('outcome_unknown', `the gateway restarted while executing command ${id}; whether it took effect is unknown, and it is not run again`)
        : commandError('duplicate_id', `command ${id} was received before (${new Date(first.received).toISOString()}) and is not run again; its result is in data.first`);
    const result: CommandResultPayload = { v: SCHEMA_VERSION, id, ts: this.now(), status: 'duplicate', error, data: { first } };
    this.counters.duplicate++;
    this.options.log.info({ id, first: first.status }, 'duplicate command id');
    await this.options.publish(result);
    return result;
  }

  private resultOf(id: string, record: CommandRecord): CommandResultPayload {
    if (record.status === 'started') throw new Error('a started command has no result yet');
    return {
      v: SCHEMA_VERSION,
      id,
      ts: record.ts,
      status: record.status,
      ...(record.error ? { error: record.error } : {}),
      ...(record.data ? { data: record.data } : {}),
    };
  }

  private finish(received: number, status: FinalStatus, error?: CommandError, data?: Record<string, unknown>): CommandRecord {
    return { status, received, ts: this.now(), ...(error ? { error } : {}), ...(data ? { data } : {}) };
  }

  private async execute(command: CommandPayload): Promise<CommandRecord> {
    const { log, store } = this.options;
    const received = this.now();
    const deadline = command.ts + command.timeout_ms;
    const context = { id: command.id, device: command.device, action: command.action };
    // A command that comes late (a gateway back from an outage) must not open a barrier now.
    if (received > deadline) {
      log.warn({ ...context, late_ms: received - deadline }, 'command expired before it arrived');
      return this.finish(received, 'timeout', commandError('expired', `arrived ${received - deadline} ms after its timeout of ${command.timeout_ms} ms; not executed`));
    }
    const planned = planCommand(command, this.options.targetOf(command.device));
    if (!planned.ok) {
      log.warn({ ...context, code: planned.error.code }, `command refused: ${planned.error.message}`);
      return this.finish(received, 'rejected', planned.error);
    }
    // From here the device may be touched: say so on disk first, so that a restart in the middle
    // answers a repeated id with "outcome unknown" rather than running it twice.
    await store.putState({ [commandKey(command.id)]: { status: 'started', received } satisfies CommandRecord });
    const record = await this.run(command, planned.plan, received, deadline);
    const level = record.status === 'ok' ? 'info' : 'warn';
    log[level]({ ...context, status: record.status, code: record.status === 'started' ? undefined : record.error?.code }, 'command executed');
    return record;
  }

  private async run(command: CommandPayload, plan: CommandPlan, received: number, deadline: number): Promise<CommandRecord> {
    const base = { device: command.device, action: command.action };
    if (plan.kind === 'gpio-unlock') {
      this.options.unlockDoor(plan.device, plan.seconds);
      return this.finish(received, 'ok', undefined, { ...base, seconds: plan.seconds });
    }
    const bus = this.options.busOf(plan.device);
    if (!bus) return this.finish(received, 'failed', commandError('bus_stopped', `no bus serves ${plan.device}`));
    let started = false;
    let timer: NodeJS.Timeout | undefined;
    const write = bus
      .enqueue(plan.unit, async (io) => {
        // Still queued when the time ran out: never write late.
        if (this.now() > deadline) return undefined;
        started = true;
        return io.write(plan.write);
      })
      .then(
        (result): { kind: 'done'; result: ModbusResult<void> | undefined } => ({ kind: 'done', result }),
        (error: unknown) => ({ kind: 'stopped' as const, message: String(error) }),
      );
    const expiry = new Promise<{ kind: 'timeout' }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, deadline - this.now()));
    });
    const outcome = await Promise.race([write, expiry]);
    clearTimeout(timer);
    const data = { ...base, point: plan.point, value: plan.value };
    if (outcome.kind === 'stopped') return this.finish(received, 'failed', commandError('bus_stopped', outcome.message));
    if (outcome.kind === 'timeout' || outcome.result === undefined) {
      const effect = started ? 'the write was under way and may have taken effect' : 'the write was not sent';
      return this.finish(received, 'timeout', commandError('timeout', `no result within ${command.timeout_ms} ms: ${effect}`), data);
    }
    const { result } = outcome;
    if (result.ok) return this.finish(received, 'ok', undefined, data);
    const code = result.failure.kind === 'exception' ? 'device_exception' : 'no_answer';
    return this.finish(received, 'failed', commandError(code, `${plan.device} ${plan.point}: ${result.failure.message}`), data);
  }

  /** Forgets command ids older than the retention, so that the state does not grow for ever. */
  async prune(): Promise<number> {
    const horizon = this.now() - (this.options.retentionMs ?? DEFAULT_RETENTION_MS);
    const old: Record<string, undefined> = {};
    for (const { key, value } of this.options.store.stateEntries<CommandRecord>(COMMAND_PREFIX)) {
      if (value.received < horizon) old[key] = undefined;
    }
    const count = Object.keys(old).length;
    if (count > 0) await this.options.store.putState(old);
    return count;
  }
}

/** The id of a message that is not a valid command, when it has one a result can carry. */
function idOf(raw: Uint8Array | string): string | undefined {
  try {
    const id = (JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8')) as { id?: unknown } | null)?.id;
    return typeof id === 'string' && ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
