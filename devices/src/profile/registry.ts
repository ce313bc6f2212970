import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { loadAnyProfileFile } from './load.js';
import type { AnyDeviceProfile, DeviceProfile } from './schema.js';

/** The models Gatehouse ships: one folder per model under devices/models, each with profile.yaml. */
const MODELS_DIR = fileURLToPath(new URL('../../models', import.meta.url));

let builtIn: Map<string, AnyDeviceProfile> | undefined;
let builtInModbus: Map<string, DeviceProfile> | undefined;

function loadBuiltIn(): Map<string, AnyDeviceProfile> {
  const profiles = new Map<string, AnyDeviceProfile>();
  for (const model of readdirSync(MODELS_DIR)) {
    const file = join(MODELS_DIR, model, 'profile.yaml');
    if (!existsSync(file)) continue;
    const profile = loadAnyProfileFile(file);
    profiles.set(profile.id, profile);
  }
  return profiles;
}

/** The shipped profiles of every protocol (Modbus, DL/T 645 and OPC UA). */
export function builtInAnyProfiles(): ReadonlyMap<string, AnyDeviceProfile> {
  builtIn ??= loadBuiltIn();
  return builtIn;
}

/** The shipped Modbus profiles. */
export function builtInProfiles(): ReadonlyMap<string, DeviceProfile> {
  builtInModbus ??= new Map(
    [...builtInAnyProfiles()].filter((entry): entry is [string, DeviceProfile] => entry[1].protocol === 'modbus'),
  );
  return builtInModbus;
}

/** A shipped Modbus profile by id, or undefined. */
export function builtInProfile(id: string): DeviceProfile | undefined {
  return builtInProfiles().get(id);
}

/** A shipped profile of any protocol by id, or undefined. */
export function builtInAnyProfile(id: string): AnyDeviceProfile | undefined {
  return builtInAnyProfiles().get(id);
}
