import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeIssues, fieldIssues, type FieldIssue } from '@gatehouse/protocols';
import { builtInAnyProfile, loadAnyProfileFile, ProfileError, type AnyDeviceProfile } from '@gatehouse/devices';
import { readCredentialsFile } from '../enroll/enroll.js';
import { AgentConfig } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: FieldIssue[],
  ) {
    super(`${file}: ${describeIssues(issues)}`);
  }
}

/** A validated configuration with everything it names resolved. */
export interface LoadedConfig {
  config: AgentConfig;
  /** Profiles by the name the config gives them: Modbus ones, and DL/T 645 ones for dlt645 buses. */
  profiles: Map<string, AnyDeviceProfile>;
  /** Reported in the status, so that the hub sees which configuration a gateway runs. */
  version: string;
  dataDir: string;
}

function resolveProfiles(config: AgentConfig, file: string): Map<string, AnyDeviceProfile> {
  const profiles = new Map<string, AnyDeviceProfile>();
  const issues: FieldIssue[] = [];
  config.devices.forEach((device, index) => {
    if (profiles.has(device.profile)) return;
    const shipped = builtInAnyProfile(device.profile);
    if (shipped) {
      profiles.set(device.profile, shipped);
      return;
    }
    if (!/[/.]/.test(device.profile)) {
      issues.push({ path: `devices[${index}].profile`, message: `no shipped profile "${device.profile}"` });
      return;
    }
    const path = isAbsolute(device.profile) ? device.profile : resolve(dirname(file), device.profile);
    try {
      profiles.set(device.profile, loadAnyProfileFile(path));
    } catch (error) {
      if (!(error instanceof ProfileError)) throw error;
      issues.push({ path: `devices[${index}].profile`, message: error.message });
    }
  });
  // A DL/T 645 meter is read by data identifier, a Modbus device by register, an OPC UA device by
  // its variables: the profile must speak the bus's protocol.
  const transports = new Map(config.buses.map((bus) => [bus.id, bus.transport]));
  config.devices.forEach((device, index) => {
    const protocol = profiles.get(device.profile)?.protocol;
    const transport = transports.get(device.bus);
    const spoken = transport === 'dlt645' || transport === 'opcua' ? transport : 'modbus';
    if (protocol === undefined || transport === undefined || protocol === spoken) return;
    issues.push({ path: `devices[${index}].profile`, message: `a ${protocol} profile cannot serve a device on ${transport} bus "${device.bus}"` });
  });
  if (issues.length > 0) throw new ConfigError(file, issues);
  return profiles;
}

/**
 * Takes the gateway's MQTT credentials from the file enrolment wrote, so that the password lives
 * in one file with mode 0600 rather than in the configuration.
 */
function applyCredentials(config: AgentConfig, file: string): void {
  const { uplink } = config;
  if (!uplink.credentials_file) return;
  if (uplink.username !== undefined || uplink.password !== undefined) {
    throw new ConfigError(file, [{ path: 'uplink.credentials_file', message: 'give a credentials file or a username and password, not both' }]);
  }
  const path = isAbsolute(uplink.credentials_file) ? uplink.credentials_file : resolve(dirname(file), uplink.credentials_file);
  try {
    const credentials = readCredentialsFile(path);
    uplink.username = credentials.mqtt.username;
    uplink.password = credentials.mqtt.password;
  } catch (error) {
    throw new ConfigError(file, [{ path: 'uplink.credentials_file', message: `cannot read ${path}: ${(error as Error).message}` }]);
  }
}

/** Parses and validates a config document (YAML or JSON; YAML is a superset of JSON). */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, [{ path: '(root)', message: (error as Error).message }]);
  }
  const result = AgentConfig.safeParse(document);
  if (!result.success) throw new ConfigError(file, fieldIssues(result.error));
  const config = result.data;
  applyCredentials(config, file);
  const dataRoot = env.GATEHOUSE_DATA_DIR ?? join(process.cwd(), '.gatehouse');
  return {
    config,
    profiles: resolveProfiles(config, file),
    version: createHash('sha256').update(text).digest('hex').slice(0, 12),
    dataDir: config.data_dir ?? join(dataRoot, 'edge', `${config.site}-${config.gateway}`),
  };
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: '(root)', message: `cannot read: ${(error as Error).message}` }]);
  }
  return parseConfig(text, file, env);
}
