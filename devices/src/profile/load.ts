import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { describeIssues, fieldIssues, type FieldIssue } from '@gatehouse/protocols';
import { AnyDeviceProfile, DeviceProfile } from './schema.js';

export class ProfileError extends Error {
  override name = 'ProfileError';
  constructor(
    readonly source: string,
    readonly issues: FieldIssue[],
  ) {
    super(`profile ${source} is invalid: ${describeIssues(issues)}`);
  }
}

/** Validates a parsed profile document; `source` names it in errors. */
export function parseProfile(document: unknown, source: string): DeviceProfile {
  return validated(DeviceProfile, document, source);
}

/** Reads a profile from a YAML or JSON file (YAML is a superset of JSON). */
export function loadProfileFile(path: string): DeviceProfile {
  return parseProfile(readProfileDocument(path), path);
}

/** Validates a profile of any protocol: Modbus, DL/T 645 (`protocol: dlt645`) or OPC UA (`protocol: opcua`). */
export function parseAnyProfile(document: unknown, source: string): AnyDeviceProfile {
  return validated(AnyDeviceProfile, document, source);
}

function validated<T>(schema: z.ZodType<T>, document: unknown, source: string): T {
  const result = schema.safeParse(document);
  if (!result.success) throw new ProfileError(source, fieldIssues(result.error));
  return result.data;
}

export function loadAnyProfileFile(path: string): AnyDeviceProfile {
  return parseAnyProfile(readProfileDocument(path), path);
}

function readProfileDocument(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ProfileError(path, [{ path: '(root)', message: (error as Error).message }]);
  }
}
