/** The shapes of the hub's API the dashboard reads (see /api/v1/openapi.json). */
export interface Device {
  id: string;
  site: string;
  gateway: string;
  device: string;
  kind: string | null;
  profile: string | null;
  comm: { status: string; reason: string | null; last_good_read: number | null };
  gateway_state: string;
  last_seen: number | null;
}

export interface Reading {
  device: string;
  point: string;
  value: number | boolean | string | null;
  quality: 'good' | 'bad' | 'uncertain';
  ts: number;
}

export interface PointInfo {
  type: string;
  unit: string;
  description: string;
}

export type Catalogue = Record<string, Record<string, PointInfo>>;

export type LiveMessage =
  | { type: 'hello' }
  | { type: 'readings'; readings: Reading[] }
  | { type: 'device'; device: Device };

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export const fetchDevices = () => getJson<{ devices: Device[] }>('/api/v1/devices').then((body) => body.devices);
export const fetchCatalogue = () => getJson<{ kinds: Catalogue }>('/api/v1/catalogue').then((body) => body.kinds);
export const fetchLatest = (id: string) =>
  getJson<{ readings: Array<Omit<Reading, 'device'>> }>(`/api/v1/devices/${encodeURIComponent(id)}/latest`).then((body) =>
    body.readings.map((reading) => ({ ...reading, device: id })),
  );
