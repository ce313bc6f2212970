import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { fieldIssues } from '@gatehouse/protocols';
import type { Retention } from './store/telemetry/influx/schema.js';

/** The hub's settings, read from GATEHOUSE_* environment variables; each has a default. */
const Port = z.coerce.number().int().min(0).max(65535);

const HOUR_MS = 3_600_000;
const UNIT_MS: Record<string, number> = { h: HOUR_MS, d: 24 * HOUR_MS, w: 7 * 24 * HOUR_MS };

/**
 * A retention period in InfluxQL's words: hours, days or weeks (`90d`, `2160h`, `52w`), or `INF`
 * to keep for ever. InfluxDB refuses periods under an hour.
 */
const RetentionPeriod = z
  .string()
  .regex(/^(INF|[1-9]\d*[hdw])$/, 'a duration such as 90d, 2160h or 52w, or INF')
  .transform((literal): Retention => {
    if (literal === 'INF') return { literal, ms: Infinity };
    return { literal, ms: Number(literal.slice(0, -1)) * (UNIT_MS[literal.slice(-1)] ?? 0) };
  });

const HttpUrl = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' });
const MqttUrl = z.url({ protocol: /^mqtts?$/, error: 'an mqtt:// or mqtts:// URL' });
const PostgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// or postgresql:// URL' });

const HubEnvironment = z
  .object({
    GATEHOUSE_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    GATEHOUSE_HTTP_PORT: Port.default(8080),
    GATEHOUSE_MQTT_HOST: z.string().min(1).default('127.0.0.1'),
    GATEHOUSE_MQTT_PORT: Port.default(1883),
    GATEHOUSE_DATA_DIR: z.string().min(1).optional(),
    GATEHOUSE_MQTT_URL: MqttUrl.optional(),
    GATEHOUSE_MQTT_USERNAME: z.string().min(1).optional(),
    GATEHOUSE_MQTT_PASSWORD: z.string().optional(),
    /** Names this hub replica to the broker; its persistent session is kept under this name. */
    GATEHOUSE_HUB_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _').optional(),
    GATEHOUSE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    GATEHOUSE_DATABASE_URL: PostgresUrl.optional(),
    GATEHOUSE_INFLUX_URL: HttpUrl.optional(),
    GATEHOUSE_INFLUX_DATABASE: z.string().min(1).max(64).default('gatehouse'),
    GATEHOUSE_INFLUX_USERNAME: z.string().min(1).optional(),
    GATEHOUSE_INFLUX_PASSWORD: z.string().optional(),
    GATEHOUSE_INFLUX_TOKEN: z.string().min(1).optional(),
    GATEHOUSE_INFLUX_RAW_RETENTION: RetentionPeriod.prefault('90d'),
    /** The first administrator's password, used only while there is no user; else one is generated and printed once. */
    GATEHOUSE_ADMIN_PASSWORD: z.string().min(12, 'at least 12 characters').optional(),
    /** PEM files: with both, the hub serves HTTPS and its embedded broker MQTT over TLS. */
    GATEHOUSE_TLS_CERT: z.string().min(1).optional(),
    GATEHOUSE_TLS_KEY: z.string().min(1).optional(),
    /** Development only: the embedded broker lets clients without credentials in, as any gateway. */
    GATEHOUSE_MQTT_ALLOW_ANONYMOUS: z.enum(['true', 'false']).default('false'),
    /** The broker URL enrolled gateways are told to use, when it differs from the hub's own (NAT, DNS name). */
    GATEHOUSE_MQTT_PUBLIC_URL: MqttUrl.optional(),
    /** Mosquitto's password and ACL files, which the hub keeps in step with its gateways; and its pid file, to reload it. */
    GATEHOUSE_MOSQUITTO_PASSWORD_FILE: z.string().min(1).optional(),
    GATEHOUSE_MOSQUITTO_ACL_FILE: z.string().min(1).optional(),
    GATEHOUSE_MOSQUITTO_PID_FILE: z.string().min(1).optional(),
    /** Requests per client address per minute: logins and enrolments, and the API as a whole. */
    GATEHOUSE_RATE_LIMIT_LOGIN: z.coerce.number().int().min(1).max(100_000).default(10),
    GATEHOUSE_RATE_LIMIT_API: z.coerce.number().int().min(1).max(10_000_000).default(1200),
    GATEHOUSE_INFLUX_ROLLUP_RETENTION: RetentionPeriod.prefault('INF'),
    GATEHOUSE_PAGING_FILE: z.string().min(1).optional(),
    GATEHOUSE_RULES_FILE: z.string().min(1).optional(),
    GATEHOUSE_ALARM_GROUP_WAIT_S: z.coerce.number().int().min(0).max(3600).default(30),
    GATEHOUSE_PUBLIC_URL: HttpUrl.optional(),
    GATEHOUSE_CLOCK_RATE: z.coerce.number().min(1).max(10_000).default(1),
    GATEHOUSE_CLOCK_ORIGIN: z.coerce.number().int().min(0).optional(),
  })
  .superRefine((env, context) => {
    if ((env.GATEHOUSE_TLS_CERT === undefined) !== (env.GATEHOUSE_TLS_KEY === undefined)) {
      context.addIssue({ code: 'custom', path: [env.GATEHOUSE_TLS_CERT ? 'GATEHOUSE_TLS_KEY' : 'GATEHOUSE_TLS_CERT'], message: 'TLS needs both a certificate and a key' });
    }
    if ((env.GATEHOUSE_MOSQUITTO_PASSWORD_FILE === undefined) !== (env.GATEHOUSE_MOSQUITTO_ACL_FILE === undefined)) {
      context.addIssue({ code: 'custom', path: ['GATEHOUSE_MOSQUITTO_ACL_FILE'], message: 'give both the password file and the ACL file' });
    }
    if (env.GATEHOUSE_MOSQUITTO_PASSWORD_FILE && (!env.GATEHOUSE_MQTT_URL || !env.GATEHOUSE_MQTT_USERNAME || !env.GATEHOUSE_MQTT_PASSWORD)) {
      context.addIssue({
        code: 'custom',
        path: ['GATEHOUSE_MOSQUITTO_PASSWORD_FILE'],
        message: "needs GATEHOUSE_MQTT_URL and the hub's own GATEHOUSE_MQTT_USERNAME and GATEHOUSE_MQTT_PASSWORD",
      });
    }
    if (env.GATEHOUSE_INFLUX_TOKEN && env.GATEHOUSE_INFLUX_USERNAME) {
      context.addIssue({
        code: 'custom',
        path: ['GATEHOUSE_INFLUX_TOKEN'],
        message: 'give a token or a username and password, not both',
      });
    }
    if (env.GATEHOUSE_INFLUX_PASSWORD !== undefined && !env.GATEHOUSE_INFLUX_USERNAME) {
      context.addIssue({ code: 'custom', path: ['GATEHOUSE_INFLUX_USERNAME'], message: 'a password needs a username' });
    }
    // The rollup outlives the raw readings, or it is not worth keeping.
    if (env.GATEHOUSE_INFLUX_ROLLUP_RETENTION.ms < env.GATEHOUSE_INFLUX_RAW_RETENTION.ms) {
      context.addIssue({
        code: 'custom',
        path: ['GATEHOUSE_INFLUX_ROLLUP_RETENTION'],
        message: `must be at least GATEHOUSE_INFLUX_RAW_RETENTION (${env.GATEHOUSE_INFLUX_RAW_RETENTION.literal})`,
      });
    }
  });

/**
 * The broker gateways publish to: aedes inside the hub, or an external one (Mosquitto, EMQX…)
 * shared by several hub replicas.
 */
export type BrokerSettings =
  | { kind: 'embedded'; host: string; port: number }
  | { kind: 'external'; url: string; username: string | undefined; password: string | undefined; hubId: string };

/** Where the registry and ingestion bookkeeping live. */
export type RelationalSettings = { kind: 'embedded'; dataDir: string } | { kind: 'postgresql'; url: string };

/** Where readings live: the relational store's tables, or InfluxDB. */
export type TelemetrySettings =
  | { kind: 'relational' }
  | {
      kind: 'influxdb';
      url: string;
      database: string;
      username: string | undefined;
      password: string | undefined;
      token: string | undefined;
      retention: { raw: Retention; rollup: Retention };
    };

/** People, gateways' credentials, TLS and limits. */
export interface SecuritySettings {
  adminPassword: string | undefined;
  tls: { certFile: string; keyFile: string } | undefined;
  mqttAllowAnonymous: boolean;
  mqttPublicUrl: string | undefined;
  mosquitto: { passwordFile: string; aclFile: string; pidFile: string | undefined } | undefined;
  rateLimits: { loginPerMinute: number; apiPerMinute: number };
}

/** Alarms to people: the paging channels, the links pages carry, and the escalation clock. */
export interface DispatchSettings {
  /** JSON file of the hub's paging channels by name (see PagingChannels). */
  pagingFile: string | undefined;
  /** JSON file of the hub's own alarm rules by site (see HubRules). */
  rulesFile: string | undefined;
  /** How long a device's comm-loss alarm waits for others on its bus before it pages on its own. */
  groupWaitMs: number;
  /** The hub's address as technicians reach it, for acknowledgement links; the listening address when unset. */
  publicUrl: string | undefined;
  /**
   * For drills and tests only: the hub's clock runs this many times faster than real time from
   * `origin` on (every replica must be given the same origin), so that a 10-minute escalation
   * step takes 10 s at 60.
   */
  clock: { rate: number; origin: number };
}

export interface HubSettings {
  http: { host: string; port: number };
  dispatch: DispatchSettings;
  broker: BrokerSettings;
  dataDir: string;
  logLevel: string;
  relational: RelationalSettings;
  telemetry: TelemetrySettings;
  security: SecuritySettings;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

export function hubSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): HubSettings {
  const result = HubEnvironment.safeParse(env);
  if (!result.success) {
    const issues = fieldIssues(result.error).map((issue) => `${issue.path}: ${issue.message}`);
    throw new SettingsError(`invalid environment: ${issues.join('; ')}`);
  }
  const values = result.data;
  const dataDir = values.GATEHOUSE_DATA_DIR ?? join(cwd, '.gatehouse');
  return {
    http: { host: values.GATEHOUSE_HTTP_HOST, port: values.GATEHOUSE_HTTP_PORT },
    dispatch: {
      pagingFile: values.GATEHOUSE_PAGING_FILE,
      rulesFile: values.GATEHOUSE_RULES_FILE,
      groupWaitMs: values.GATEHOUSE_ALARM_GROUP_WAIT_S * 1000,
      publicUrl: values.GATEHOUSE_PUBLIC_URL,
      clock: { rate: values.GATEHOUSE_CLOCK_RATE, origin: values.GATEHOUSE_CLOCK_ORIGIN ?? Date.now() },
    },
    broker: values.GATEHOUSE_MQTT_URL
      ? {
          kind: 'external',
          url: values.GATEHOUSE_MQTT_URL,
          username: values.GATEHOUSE_MQTT_USERNAME,
          password: values.GATEHOUSE_MQTT_PASSWORD,
          hubId: values.GATEHOUSE_HUB_ID ?? hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64),
        }
      : { kind: 'embedded', host: values.GATEHOUSE_MQTT_HOST, port: values.GATEHOUSE_MQTT_PORT },
    dataDir,
    logLevel: values.GATEHOUSE_LOG_LEVEL,
    relational: values.GATEHOUSE_DATABASE_URL
      ? { kind: 'postgresql', url: values.GATEHOUSE_DATABASE_URL }
      : { kind: 'embedded', dataDir: join(dataDir, 'hub', 'pglite') },
    telemetry: values.GATEHOUSE_INFLUX_URL
      ? {
          kind: 'influxdb',
          url: values.GATEHOUSE_INFLUX_URL,
          database: values.GATEHOUSE_INFLUX_DATABASE,
          username: values.GATEHOUSE_INFLUX_USERNAME,
          password: values.GATEHOUSE_INFLUX_PASSWORD,
          token: values.GATEHOUSE_INFLUX_TOKEN,
          retention: { raw: values.GATEHOUSE_INFLUX_RAW_RETENTION, rollup: values.GATEHOUSE_INFLUX_ROLLUP_RETENTION },
        }
      : { kind: 'relational' },
    security: {
      adminPassword: values.GATEHOUSE_ADMIN_PASSWORD,
      tls: values.GATEHOUSE_TLS_CERT && values.GATEHOUSE_TLS_KEY ? { certFile: values.GATEHOUSE_TLS_CERT, keyFile: values.GATEHOUSE_TLS_KEY } : undefined,
      mqttAllowAnonymous: values.GATEHOUSE_MQTT_ALLOW_ANONYMOUS === 'true',
      mqttPublicUrl: values.GATEHOUSE_MQTT_PUBLIC_URL,
      mosquitto:
        values.GATEHOUSE_MOSQUITTO_PASSWORD_FILE && values.GATEHOUSE_MOSQUITTO_ACL_FILE
          ? { passwordFile: values.GATEHOUSE_MOSQUITTO_PASSWORD_FILE, aclFile: values.GATEHOUSE_MOSQUITTO_ACL_FILE, pidFile: values.GATEHOUSE_MOSQUITTO_PID_FILE }
          : undefined,
      rateLimits: { loginPerMinute: values.GATEHOUSE_RATE_LIMIT_LOGIN, apiPerMinute: values.GATEHOUSE_RATE_LIMIT_API },
    },
  };
}
