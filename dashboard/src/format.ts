import type { PointInfo, Reading } from './api.js';

/** "energy_import_kwh" → "energy import": the unit is shown beside the value, not in the name. */
export function pointLabel(point: string, info: PointInfo | undefined): string {
  const words = point.split('_');
  if (info?.unit && words.length > 1) words.pop();
  return words.join(' ');
}

export function formatValue(reading: Pick<Reading, 'value' | 'quality'>, info: PointInfo | undefined): string {
  if (reading.value === null) return reading.quality === 'bad' ? 'no reading' : '—';
  if (typeof reading.value === 'boolean') return reading.value ? 'yes' : 'no';
  if (typeof reading.value === 'string') return reading.value;
  const magnitude = Math.abs(reading.value);
  const digits = magnitude >= 1000 ? 1 : magnitude >= 10 ? 2 : 3;
  const text = reading.value.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return info?.unit ? `${text} ${info.unit}` : text;
}

export function formatAge(ts: number | null, now: number): string {
  if (ts === null) return 'never heard from';
  const seconds = Math.max(0, Math.round((now - ts) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(ts).toLocaleString();
}

/** A moment in the viewer's own time zone and language. */
export function formatTime(ts: number): string {
  return new Date(ts).toLocaleString();
}

/** "2 h 5 min", "45 min", "under a minute". */
function formatSpan(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'under a minute';
  const hours = Math.floor(minutes / 60);
  if (hours === 0) return `${minutes} min`;
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** A work order's SLA due time, and how long is left or how late it is. */
export function formatDue(due: number, now: number): string {
  return due >= now ? `${formatTime(due)} (in ${formatSpan(due - now)})` : `${formatTime(due)} (overdue by ${formatSpan(now - due)})`;
}

/** A code as words: "in_progress" → "in progress", "page_delivered" → "page delivered". */
export function words(code: string): string {
  return code.replaceAll('_', ' ');
}
