import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadProfileFile } from './load.js';
import type { DeviceProfile } from './schema.js';

/** The models Gatehouse ships: one folder per model under devices/models, each with profile.yaml. */
const MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));

let builtIn: Map<string, DeviceProfile> | undefined;

function loadBuiltIn(): Map<string, DeviceProfile> {
  const profiles = new Map<string, DeviceProfile>();
  for (const model of readdirSync(MODELS_DIR)) {
    const file = join(MODELS_DIR, model, 'profile.yaml');
    if (!existsSync(file)) continue;
    const profile = loadProfileFile(file);
    profiles.set(profile.id, profile);
  }
  return profiles;
}

export function builtInProfiles(): ReadonlyMap<string, DeviceProfile> {
  builtIn ??= loadBuiltIn();
  return builtIn;
}

/** A shipped profile by id, or undefined. */
export function builtInProfile(id: string): DeviceProfile | undefined {
  return builtInProfiles().get(id);
}
