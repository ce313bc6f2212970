import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditLog } from '../../store/audit-log.js';

const Ms = z.coerce.number().int().min(0).describe('milliseconds since the epoch');

/** GET /audit: the audit log, for administrators. There is no route that changes it. */
export const auditRoutes =
  (audit: AuditLog): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/audit',
      {
        config: { access: { roles: ['admin'], scope: 'audit:read' } },
        schema: {
          summary: 'The audit log, newest first: who, when, from where, what, before and after',
          tags: ['audit'],
          querystring: z.object({
            actor: z.string().max(200).optional(),
            action: z.string().max(100).optional().describe('an action (login.failed), or a prefix ending in "." (login.)'),
            site: z.string().max(64).optional(),
            target: z.string().max(200).optional(),
            from: Ms.optional(),
            to: Ms.optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: {
            200: z.object({
              entries: z.array(
                z.object({
                  id: z.number(),
                  at: z.number(),
                  actor: z.string().nullable(),
                  actor_kind: z.string(),
                  ip: z.string().nullable(),
                  action: z.string(),
                  target: z.string().nullable(),
                  site: z.string().nullable(),
                  outcome: z.string(),
                  before: z.unknown(),
                  after: z.unknown(),
                }),
              ),
            }),
          },
        },
      },
      async (request) => ({ entries: await audit.list(request.query) }),
    );
  };
