import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CommandPayload } from '@gatehouse/protocols';
import type { Commander } from '../../commands/commander.js';
import type { AuditLog } from '../../store/audit-log.js';
import type { CommandLog } from '../../store/command-log.js';
import type { Registry } from '../../store/registry.js';
import { actorOf, principalOf, type RouteAccess } from '../access.js';
import { ApiError, errors } from '../errors.js';
import { DeviceParams, ErrorBody } from '../schemas.js';
import { DEVICE_PARAM, READ_DEVICE } from './devices.js';

export interface CommandRouteDeps {
  registry: Registry;
  commands: CommandLog;
  commander: Commander;
  audit: AuditLog;
}

/** Opening a gate or a door, or writing a register, moves something in the building. */
const COMMAND_DEVICE: RouteAccess = { roles: ['admin', 'engineer', 'installer', 'technician'], scope: 'devices:command', site: DEVICE_PARAM };

const CommandBody = z.object({
  id: z.string(),
  site: z.string(),
  gateway: z.string(),
  device: z.string().describe('hub-wide device id'),
  action: z.string(),
  params: z.record(z.string(), z.unknown()),
  timeout_ms: z.number(),
  requested_by: z.string(),
  requested_at: z.number(),
  deadline: z.number().describe('when the hub stops waiting and settles it as timeout'),
  status: z.enum(['pending', 'ok', 'failed', 'rejected', 'timeout', 'duplicate']),
  error: z.object({ code: z.string(), message: z.string() }).nullable().describe('why it failed: the gateway’s code (unknown_device, not_writable…) or the hub’s (no_result, not_sent)'),
  data: z.record(z.string(), z.unknown()).nullable(),
  completed_at: z.number().nullable(),
});

const CommandRequestBody = z.object({
  id: CommandPayload.shape.id.optional().describe('your id for the command, 8-64 characters; a repeat is refused (409), never sent twice. Default: a UUID'),
  action: CommandPayload.shape.action,
  params: z.record(z.string(), z.unknown()).default({}).describe('unlock_door: {seconds}; write_register: {point, value}'),
  timeout_ms: z.number().int().min(1000).max(300_000).default(10_000).describe('how long the gateway may take to carry it out'),
});

const duplicateCommand = (id: string, status: string) =>
  new ApiError(409, 'duplicate_command_id', `command "${id}" was sent already (its status: ${status}); a command id is carried out once: use a new id`);

export const commandRoutes =
  (deps: CommandRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/devices/:id/commands',
      {
        config: { access: COMMAND_DEVICE },
        schema: {
          summary: 'Send a command to a device through its gateway: open a barrier, unlock a door, write a register',
          description:
            'Answers 202 once the broker has the command; follow it with GET …/commands/{command} or the live feed. ' +
            'The gateway checks it against the device profile and answers with a result; without one by the deadline it is settled as timeout.',
          tags: ['commands'],
          params: DeviceParams,
          body: CommandRequestBody,
          response: { 202: z.object({ command: CommandBody }), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody },
        },
      },
      async (request, reply) => {
        const device = await deps.registry.getDevice(request.params.id);
        if (!device) throw errors.deviceNotFound(request.params.id);
        const outcome = await deps.commander.send(device, request.body, principalOf(request).name);
        // Who opened which gate when: each command is in the audit log, sent or refused.
        await deps.audit.record({
          ...actorOf(request),
          action: 'device.command',
          target: device.id,
          site: device.site,
          outcome: outcome.ok ? 'ok' : 'refused',
          after: { ...request.body, id: 'command' in outcome ? outcome.command.id : request.body.id, result: outcome.ok ? 'sent' : outcome.code },
        });
        request.audited = true;
        if (outcome.ok) return reply.status(202).send({ command: outcome.command });
        switch (outcome.code) {
          case 'action_not_supported':
            throw new ApiError(400, 'action_not_supported', outcome.message, [{ field: 'body.action', message: outcome.message }]);
          case 'duplicate_command_id':
            throw duplicateCommand(outcome.command.id, outcome.command.status);
          case 'broker_unavailable':
            throw new ApiError(503, 'broker_unavailable', `${outcome.message}; the command was not sent`);
        }
      },
    );

    app.get(
      '/devices/:id/commands',
      {
        config: { access: READ_DEVICE },
        schema: {
          summary: "A device's commands, newest first",
          tags: ['commands'],
          params: DeviceParams,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
          response: { 200: z.object({ commands: z.array(CommandBody) }) },
        },
      },
      async (request) => ({ commands: await deps.commands.listOfDevice(request.params.id, request.query.limit) }),
    );

    app.get(
      '/devices/:id/commands/:command',
      {
        config: { access: READ_DEVICE },
        schema: {
          summary: 'One command and what became of it',
          tags: ['commands'],
          params: DeviceParams.extend({ command: z.string().min(1).max(64) }),
          response: { 200: z.object({ command: CommandBody }), 404: ErrorBody },
        },
      },
      async (request) => {
        const command = await deps.commands.get(request.params.command);
        if (command?.device !== request.params.id) {
          throw new ApiError(404, 'command_not_found', `no command "${request.params.command}" of device "${request.params.id}"`);
        }
        return { command };
      },
    );
  };
