import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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
import type { LiveFeed } from '../live/live-feed.js';
import { isStoreError } from '../store/errors.js';
import type { Registry } from '../store/registry.js';
import type { TelemetryStore } from '../store/telemetry/port.js';
import { ApiError, errors } from './errors.js';
import { deviceRoutes } from './routes/devices.js';
import { healthRoutes, type HealthDeps } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { liveRoutes } from './routes/live.js';
import { seriesRoutes } from './routes/series.js';
import { siteRoutes } from './routes/sites.js';

export interface AppDeps {
  log: Logger;
  registry: Registry;
  telemetry: TelemetryStore;
  live: LiveFeed;
  health: HealthDeps;
  /** Served at GET /metrics, outside the versioned API, where Prometheus looks. */
  metrics: MetricRegistry;
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
  const app = Fastify({ loggerInstance: logger, routerOptions: { maxParamLength: 256 } });
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
          '`{"type":"readings","readings":[{device,point,ts,value,quality}]}` as readings are stored and',
          '`{"type":"device","device":{...}}` when a device or its gateway changes state.',
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
      await api.register(liveRoutes(deps.live));
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api/v1' },
  );
  await app.register(metricsRoutes(deps.metrics));
  await app.register(fastifyStatic, { root: dashboardRoot(), prefix: '/' });
  return app;
}
