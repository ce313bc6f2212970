/**
 * Poll cycles as the line saw them, from the simulator's log of the requests it executed: the same
 * yardstick for the agent and for the peer, whatever either believes about its own timing.
 *
 * A cycle starts when the first request for the marker unit arrives after requests for other units
 * (at or after `from`), and ends when the next one does. Its modelled bus time is the sum, over the
 * requests executed in it, of what each transaction needs on the wire (frames, the two silences,
 * the turnaround); its efficiency is that over the time it took. Requests the slave did not
 * execute (those to a unit that is silent, dead) are not in the log: their time shows in the
 * cycle's length only.
 */
import type { RequestRecord } from './meters.js';

export interface Cycle {
  /** When the cycle's first request arrived (performance.now()). */
  start: number;
  elapsedMs: number;
  requests: number;
  busMs: number;
  efficiency: number;
}

export function cyclesOf(
  log: readonly RequestRecord[],
  options: { markerUnit: number; from: number; transactionMs: (record: RequestRecord) => number },
): Cycle[] {
  const markers: number[] = [];
  for (let i = 0; i < log.length; i++) {
    const record = log[i]!;
    if (record.at < options.from || record.unit !== options.markerUnit) continue;
    // A poll of the marker unit already under way at `from` is not a start: its cycle is partial.
    if (log[i - 1]?.unit !== options.markerUnit) markers.push(i);
  }
  const cycles: Cycle[] = [];
  for (let k = 0; k + 1 < markers.length; k++) {
    const records = log.slice(markers[k], markers[k + 1]);
    const elapsedMs = log[markers[k + 1]!]!.at - log[markers[k]!]!.at;
    const busMs = records.reduce((sum, record) => sum + options.transactionMs(record), 0);
    cycles.push({ start: log[markers[k]!]!.at, elapsedMs, requests: records.length, busMs, efficiency: busMs / elapsedMs });
  }
  return cycles;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * For each request of the window whose next request is also in it, the time from the moment its
 * answer was due to leave the slave to the arrival of the next request: the silence the master
 * left on the line, as an upper bound (the simulator's timers send an answer at its due time or
 * a little after, never before). Modbus over Serial Line asks for at least 3.5 characters.
 */
export function silencesAfterAnswers(
  log: readonly RequestRecord[],
  window: { from: number; to: number },
  answerDueMs: (record: RequestRecord) => number,
): number[] {
  const silences: number[] = [];
  for (let i = 0; i + 1 < log.length; i++) {
    const record = log[i]!;
    if (record.at < window.from || log[i + 1]!.at > window.to) continue;
    silences.push(log[i + 1]!.at - (record.at + answerDueMs(record)));
  }
  return silences;
}
