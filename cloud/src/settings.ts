import { join } from 'node:path';
import { z } from 'zod';
import { fieldIssues } from '@gatehouse/protocols';

/** The hub's settings, read from GATEHOUSE_* environment variables; each has a default. */
const Port = z.coerce.number().int().min(0).max(65535);

const HubEnvironment = z.object({
  GATEHOUSE_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  GATEHOUSE_HTTP_PORT: Port.default(8080),
  GATEHOUSE_MQTT_HOST: z.string().min(1).default('127.0.0.1'),
  GATEHOUSE_MQTT_PORT: Port.default(1883),
  GATEHOUSE_DATA_DIR: z.string().min(1).optional(),
  GATEHOUSE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export interface HubSettings {
  http: { host: string; port: number };
  mqtt: { host: string; port: number };
  dataDir: string;
  logLevel: string;
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
  return {
    http: { host: values.GATEHOUSE_HTTP_HOST, port: values.GATEHOUSE_HTTP_PORT },
    mqtt: { host: values.GATEHOUSE_MQTT_HOST, port: values.GATEHOUSE_MQTT_PORT },
    dataDir: values.GATEHOUSE_DATA_DIR ?? join(cwd, '.gatehouse'),
    logLevel: values.GATEHOUSE_LOG_LEVEL,
  };
}
