import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describeIssues, fieldIssues, type FieldIssue } from '@gatehouse/protocols';
import { DeviceProfile } from './schema.js';

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
  const result = DeviceProfile.safeParse(document);
  if (!result.success) throw new ProfileError(source, fieldIssues(result.error));
  return result.data;
}

/** Reads a profile from a YAML or JSON file (YAML is a superset of JSON). */
export function loadProfileFile(path: string): DeviceProfile {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ProfileError(path, [{ path: '(root)', message: (error as Error).message }]);
  }
  return parseProfile(document, path);
}
