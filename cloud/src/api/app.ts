import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Registry as MetricRegistry } from 'prom-client';
import type { AlarmBook } from '../alarms/alarm-book.js';
import type { Commander } from '../commands/commander.js';
import type { AlarmDesk } from '../dispatch/alarm-desk.js';
import type { OnCall } from '../oncall/index.js';
import type { SqlClient } from '../store/sql.js';
import type { WorkOrderBook } from '../work-orders/work-order-book.js';
import type { LiveFeed } from '../live/live-feed.js';
import type { AuditLog } from '../store/audit-log.js';
import type { CommandLog } from '../store/command-log.js';
import type { EventLog } from '../store/event-log.js';
import type { GatewayCredentials } from '../store/gateway-credentials.js';
import type { People } from '../store/people.js';
import { enforceAccess } from './access.js';
import { isStoreError } from '../store/errors.js';
import type { Registry } from '../store/registry.js';
import type { TelemetryStore } from '../store/telemetry/port.js';
import { ApiError, errors } from './errors.js';
import { auditRoutes } from './routes/audit.js';
import { alarmRoutes } from './routes/alarms.js';
import { authRoutes } from './routes/auth.js';
import { commandRoutes } from './routes/commands.js';
import { deviceRoutes } from './routes/devices.js';
import { eventRoutes } from './routes/events.js';
import { gatewayRoutes } from './routes/gateways.js';
import { peopleRoutes } from './routes/people.js';
import { healthRoutes, type HealthDeps } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { onCallRoutes } from './routes/oncall.js';
import { workOrderPolicyRoutes } from './routes/work-order-policies.js';
import { workOrderRoutes } from './routes/work-orders.js';
import { liveRoutes } from './routes/live.js';
import { seriesRoutes } from './routes/series.js';
import { siteRoutes } from './routes/sites.js';

export interface AppDeps {
  log: Logger;
  registry: Registry;
  telemetry: TelemetryStore;
  events: EventLog;
  commands: CommandLog;
  commander: Commander;
  live: LiveFeed;
  health: HealthDeps;
  /** Served at GET /metrics, outside the versioned API, where Prometheus looks. */
  metrics: MetricRegistry;
  security: SecurityDeps;
  dispatch: DispatchDeps;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer; key: Buffer } | undefined;
}

/** People, gateways and the audit log, and the limits that guard them. */
export interface SecurityDeps {
  people: People;
  audit: AuditLog;
  gateways: GatewayCredentials;
  /** The broker URL enrolled gateways are told to use. */
  mqttUrl: string;
  /** After a gateway's credentials were issued or revoked: disconnect it, rewrite broker files. */
  credentialsChanged(site: string, gateway: string): Promise<void>;
  /** Requests per client address per minute: logins and enrolments, and everything else. */
  rateLimits: { loginPerMinute: number; apiPerMinute: number };
}

/** Alarms, work orders and on-call, and the hub's clock they run on. */
export interface DispatchDeps {
  db: SqlClient;
  alarms: AlarmBook;
  orders: WorkOrderBook;
  oncall: OnCall;
  desk: AlarmDesk;
  now: () => number;
}

/** The dashboard's built assets, served at `/`. */
function dashboardRoot(): string {
  const manifest = createRequire(import.meta.url).resolve('@gatehouse/dashboard/package.json');
  return join(dirname(manifest), 'dist');
}

/** Builds the hub's HTTP application without listening, so that tests can `inject` into it. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // Typed with fastify's own logger interface, which pino's Logger implements.
  const logger: FastifyBaseLogger = deps.log;
  // Device ids are three identifiers of up to 64 characters; the router's default cut-off of 100
  // would answer a long id with a bare 404 before the route's schema can name the problem.
  const routerOptions = { maxParamLength: 256 };
  // An HTTPS server's instance differs from an HTTP one's only in its raw server type.
  const app = deps.tls
    ? (Fastify({ loggerInstance: logger, routerOptions, https: { cert: deps.tls.cert, key: deps.tls.key } }) as unknown as FastifyInstance)
    : Fastify({ loggerInstance: logger, routerOptions });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) return reply.status(error.statusCode).send(error.toBody());
    if (isStoreError(error)) {
      const apiError = error.code === 'rejected' ? errors.queryRejected(error.message) : errors.storeUnavailable(error.message);
      return reply.status(apiError.statusCode).send(apiError.toBody());
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const context = (error as { validationContext?: string }).validationContext ?? 'request';
      const fields = error.validation.map((issue) => {
        const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return { field: path ? `${context}.${path}` : context, message: issue.message ?? 'invalid' };
      });
      return reply.status(400).send(errors.invalidRequest(fields).toBody());
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: 'bad_request', message: (error as Error).message } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send(errors.internal().toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = errors.routeNotFound(request.method, request.url);
    return reply.status(404).send(error.toBody());
  });

  const { security } = deps;
  await app.register(fastifyCookie);
  await app.register(fastifyRateLimit, {
    global: true,
    max: security.rateLimits.apiPerMinute,
    timeWindow: '1 minute',
    errorResponseBuilder: (_request, context) => errors.rateLimited(context.after),
  });
  enforceAccess(app, security.people, security.audit);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Gatehouse hub API',
        // @fastify/websocket hides WebSocket routes from the document, so the live feed is described here.
        description: [
          'Sites, devices, readings, series and live updates of the Gatehouse hub.',
          '',
          'Times are milliseconds since the epoch in answers; parameters take the same, or ISO-8601 with an offset.',
          '',
          'Live updates: open a WebSocket to `/api/v1/live`. The hub sends JSON messages:',
          '`{"type":"readings","readings":[{device,point,ts,value,quality}]}` as readings are stored,',
          '`{"type":"events","events":[{device,type,ts,data}]}` as device events are stored,',
          '`{"type":"device","device":{...}}` when a device or its gateway changes state and',
          '`{"type":"command","command":{...}}` when a command is sent or settled,',
          '`{"type":"alarm","alarm":{...}}` when an alarm is raised, cleared, acknowledged, shelved or grouped and',
          '`{"type":"work_order","work_order":{...}}` when a work order is opened or moves on.',
        ].join('\n'),
        version: deps.health.version,
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifyWebsocket);
  await app.register(
    async (api) => {
      await api.register(healthRoutes(deps.health));
      await api.register(deviceRoutes(deps));
      await api.register(seriesRoutes(deps));
      await api.register(siteRoutes(deps.registry));
      await api.register(eventRoutes(deps.events));
      await api.register(commandRoutes({ ...deps, audit: security.audit }));
      await api.register(liveRoutes(deps.live));
      await api.register(authRoutes({ ...security, loginPerMinute: security.rateLimits.loginPerMinute, secureCookies: deps.tls !== undefined }));
      await api.register(peopleRoutes(security));
      await api.register(gatewayRoutes({ ...security, enrolPerMinute: security.rateLimits.loginPerMinute }));
      await api.register(auditRoutes(security.audit));
      await api.register(alarmRoutes(deps.dispatch));
      await api.register(workOrderRoutes(deps.dispatch));
      await api.register(workOrderPolicyRoutes(deps.dispatch));
      await api.register(onCallRoutes({ oncall: deps.dispatch.oncall, audit: security.audit }));
      api.get('/openapi.json', { schema: { hide: true }, config: { access: { roles: 'public' } } }, async () => app.swagger());
    },
    { prefix: '/api/v1' },
  );
  await app.register(metricsRoutes(deps.metrics));
  await app.register(fastifyStatic, { root: dashboardRoot(), prefix: '/' });
  return app;
}
