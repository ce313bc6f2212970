import { isDeviceKind, pointDefinition, type PointDefinition } from '@gatehouse/protocols';

/** A point's catalogue entry for a device of a kind; undefined for an unknown kind or point. */
export function catalogueEntry(kind: string | null, point: string): PointDefinition | undefined {
  return kind && isDeviceKind(kind) ? pointDefinition(kind, point) : undefined;
}

export const unitOf = (kind: string | null, point: string): string | null => catalogueEntry(kind, point)?.unit ?? null;
