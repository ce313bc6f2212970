import { z } from 'zod';

/**
 * Identifiers of sites, gateways and devices. They appear as MQTT topic levels and in URLs, so
 * they exclude the topic separators and wildcards (`/`, `+`, `#`) and the `.` that joins them
 * into a hub-wide device id.
 */
export const Identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, "-" and "_" only, starting with a letter or digit');

/** A device's id across the whole hub: `{site}.{gateway}.{device}`. */
export function hubDeviceId(site: string, gateway: string, device: string): string {
  return `${site}.${gateway}.${device}`;
}

export interface HubDeviceRef {
  site: string;
  gateway: string;
  device: string;
}

export function parseHubDeviceId(id: string): HubDeviceRef | undefined {
  const parts = id.split('.');
  if (parts.length !== 3) return undefined;
  const [site, gateway, device] = parts as [string, string, string];
  const valid = parts.every((part) => Identifier.safeParse(part).success);
  return valid ? { site, gateway, device } : undefined;
}
