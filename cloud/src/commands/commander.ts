import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SCHEMA_VERSION, topicFor, type CommandPayload, type CommandResultPayload } from '@gatehouse/protocols';
import type { LiveFeed } from '../live/live-feed.js';
import type { CommandLog, CommandRecord } from '../store/command-log.js';
import type { DeviceRecord } from '../store/registry.js';

/** Hands a message to the broker at QoS 1; rejects when the broker cannot take it now. */
export type Publish = (topic: string, payload: string) => Promise<void>;

/**
 * The device kinds an action makes sense for. The gateway checks the command against the
 * device's profile too; this only refuses early what can never work. A device whose kind the hub
 * does not know (a gateway's own door line, heard of only through its events) is left to its
 * gateway.
 */
const ACTION_KINDS: Record<CommandPayload['action'], readonly string[] | 'any'> = {
  open_barrier: ['barrier_gate'],
  unlock_door: ['access_controller'],
  write_register: 'any',
};

export interface CommandRequest {
  id?: string | undefined;
  action: CommandPayload['action'];
  params: Record<string, unknown>;
  timeout_ms: number;
}

export type SendOutcome =
  | { ok: true; command: CommandRecord }
  | { ok: false; code: 'duplicate_command_id'; command: CommandRecord }
  | { ok: false; code: 'action_not_supported'; message: string }
  | { ok: false; code: 'broker_unavailable'; command: CommandRecord; message: string };

/** How long after its gateway's own deadline the hub still waits for a result to travel back. */
const RESULT_GRACE_MS = 5_000;
const EXPIRY_SWEEP_MS = 1_000;

/**
 * Sends people's commands to devices through their gateways and follows each to its result.
 * Every command is recorded before it is published, so that a result always finds its command
 * and a command whose result never comes is settled as `timeout` by the deadline sweep (which
 * every replica may run: settling is one conditional UPDATE).
 */
export class Commander {
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: { log: CommandLog; publish: Publish; live: LiveFeed; logger: Logger; now?: () => number },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async send(device: DeviceRecord, request: CommandRequest, requestedBy: string): Promise<SendOutcome> {
    const kinds = ACTION_KINDS[request.action];
    if (kinds !== 'any' && device.kind !== null && !kinds.includes(device.kind)) {
      return { ok: false, code: 'action_not_supported', message: `${request.action} is for ${kinds.join(' or ')} devices; ${device.id} is a ${device.kind}` };
    }
    const requestedAt = this.now();
    const { created, command } = await this.deps.log.create({
      id: request.id ?? randomUUID(),
      site: device.site,
      gateway: device.gateway,
      device: device.id,
      action: request.action,
      params: request.params,
      timeout_ms: request.timeout_ms,
      requested_by: requestedBy,
      requested_at: requestedAt,
      deadline: requestedAt + request.timeout_ms + RESULT_GRACE_MS,
    });
    if (!created) return { ok: false, code: 'duplicate_command_id', command };

    const payload: CommandPayload = {
      v: SCHEMA_VERSION,
      id: command.id,
      ts: requestedAt,
      device: device.device,
      action: request.action,
      params: request.params,
      timeout_ms: request.timeout_ms,
    };
    try {
      await this.deps.publish(topicFor(device.site, device.gateway, 'cmd'), JSON.stringify(payload));
    } catch (error) {
      const message = `the broker did not take the command: ${(error as Error).message}`;
      const failed = (await this.deps.log.failToSend(command.id, message, this.now())) ?? command;
      this.announce(failed);
      return { ok: false, code: 'broker_unavailable', command: failed, message };
    }
    this.deps.logger.info({ command: command.id, device: device.id, action: request.action, by: requestedBy }, 'command sent');
    this.announce(command);
    return { ok: true, command };
  }

  /** A gateway's result; one for a command this hub did not send, or settled already, is logged. */
  async settle(site: string, gateway: string, result: CommandResultPayload): Promise<void> {
    const settled = await this.deps.log.settle(result, this.now());
    if (!settled) {
      this.deps.logger.info({ site, gateway, command: result.id, status: result.status }, 'command result for no pending command');
      return;
    }
    this.deps.logger.info({ command: settled.id, device: settled.device, status: settled.status, error: settled.error?.code }, 'command settled');
    this.announce(settled);
  }

  /** Starts settling overdue commands as `timeout`. */
  start(): void {
    this.sweep = setInterval(() => {
      this.expireOverdue().catch((error: unknown) => this.deps.logger.warn({ err: (error as Error).message }, 'command expiry failed'));
    }, EXPIRY_SWEEP_MS);
    this.sweep.unref();
  }

  stop(): void {
    clearInterval(this.sweep);
  }

  async expireOverdue(): Promise<void> {
    for (const command of await this.deps.log.expire(this.now())) {
      this.deps.logger.warn({ command: command.id, device: command.device, action: command.action }, 'command timed out: no result from its gateway');
      this.announce(command);
    }
  }

  private announce(command: CommandRecord): void {
    this.deps.live.publish({ type: 'command', command });
  }
}
