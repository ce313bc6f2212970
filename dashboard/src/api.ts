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

/** The API answered 401: the session is missing or over, and the person must log in. */
export class LoggedOut extends Error {
  override name = 'LoggedOut';
}

async function getJson<T>(path: string): Promise<T> {
  // The session travels in the hub's httpOnly cookie, which the page itself cannot read.
  const response = await fetch(path, { credentials: 'same-origin' });
  if (response.status === 401) throw new LoggedOut(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export interface Me {
  name: string;
  role: string;
  sites: string[];
}

/** Who is logged in, or undefined when nobody is. */
export async function fetchMe(): Promise<Me | undefined> {
  try {
    return await getJson<Me>('/api/v1/auth/me');
  } catch (error) {
    if (error instanceof LoggedOut) return undefined;
    throw error;
  }
}

/** Logs in; the hub sets the session cookie. Returns the hub's message when refused. */
export async function logIn(username: string, password: string): Promise<{ ok: true } | { ok: false; message: string }> {
  const response = await fetch('/api/v1/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (response.ok) return { ok: true };
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  return { ok: false, message: body.error?.message ?? `HTTP ${response.status}` };
}

export const fetchDevices = () => getJson<{ devices: Device[] }>('/api/v1/devices').then((body) => body.devices);
export const fetchCatalogue = () => getJson<{ kinds: Catalogue }>('/api/v1/catalogue').then((body) => body.kinds);
export const fetchLatest = (id: string) =>
  getJson<{ readings: Array<Omit<Reading, 'device'>> }>(`/api/v1/devices/${encodeURIComponent(id)}/latest`).then((body) =>
    body.readings.map((reading) => ({ ...reading, device: id })),
  );
