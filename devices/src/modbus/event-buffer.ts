import { decodeRegisters, type ByteOrder, type EventType } from '@gatehouse/protocols';
import type { DeviceProfile, EventBufferMapping } from '../profile/schema.js';

/**
 * Reading a controller's event ring buffer (the profile's `event_buffer`) without loss: pure
 * functions from register words to events, so that a master (the edge agent, a test) only does
 * the I/O. The protocol, in order:
 *
 * 1. read the header (`headerSpan`) and decode it (`decodeHeader`);
 * 2. read the pending records, slot `read_index` up to `write_index` (`recordReads`);
 * 3. decode them (`decodeRecords`) and keep those newer than the last sequence number taken
 *    (`takeNew`), persisting that sequence number with the events;
 * 4. write `read_index` := the `write_index` read in step 1 (FC 6), freeing the slots.
 *
 * The sequence numbers, not the indices, decide what is new: a crash between steps 3 and 4 makes
 * the next cycle read the same records again, and `takeNew` drops them.
 */
export interface EventBufferHeader {
  writeIndex: number;
  readIndex: number;
  /** Events the controller overwrote before they were taken (uint16, wraps); 0 when not mapped. */
  overflow: number;
}

export interface EventRecord {
  slot: number;
  sequence: number;
  /** Unix seconds, UTC. */
  timestamp: number;
  card: number;
  code: number;
  /** The catalogue event the code stands for; undefined for a code the profile does not name. */
  type: EventType | undefined;
}

/** One read of consecutive record slots (a wrap-around needs two). */
export interface RecordRead {
  address: number;
  count: number;
  firstSlot: number;
  slots: number;
}

/** The profile's event buffer, or an error naming the profile that has none. */
export function eventBufferOf(profile: DeviceProfile): EventBufferMapping {
  if (!profile.event_buffer) throw new RangeError(`profile ${profile.id} has no event_buffer`);
  return profile.event_buffer;
}

/** The holding registers that carry the header: one read from the lowest to the highest. */
export function headerSpan(buffer: EventBufferMapping): { address: number; count: number } {
  const addresses = [buffer.write_index, buffer.read_index, ...(buffer.overflow_count === undefined ? [] : [buffer.overflow_count])];
  const address = Math.min(...addresses);
  return { address, count: Math.max(...addresses) - address + 1 };
}

export function decodeHeader(buffer: EventBufferMapping, words: readonly number[]): EventBufferHeader {
  const { address } = headerSpan(buffer);
  const word = (at: number) => words[at - address] ?? 0;
  return {
    writeIndex: word(buffer.write_index) % buffer.capacity,
    readIndex: word(buffer.read_index) % buffer.capacity,
    overflow: buffer.overflow_count === undefined ? 0 : word(buffer.overflow_count),
  };
}

/** Records waiting: the ring keeps one slot free, so equal indices mean empty. */
export function pendingCount(buffer: EventBufferMapping, header: EventBufferHeader): number {
  return (header.writeIndex - header.readIndex + buffer.capacity) % buffer.capacity;
}

/** The reads that fetch every pending record, each within `maxRegisters`, split where the ring wraps. */
export function recordReads(buffer: EventBufferMapping, header: EventBufferHeader, maxRegisters = 125): RecordRead[] {
  const perRead = Math.floor(Math.min(maxRegisters, 125) / buffer.record_registers);
  if (perRead < 1) throw new RangeError(`a record of ${buffer.record_registers} registers exceeds ${maxRegisters} per read`);
  const reads: RecordRead[] = [];
  let slot = header.readIndex;
  for (let left = pendingCount(buffer, header); left > 0; ) {
    const slots = Math.min(left, perRead, buffer.capacity - slot);
    reads.push({ address: buffer.records + slot * buffer.record_registers, count: slots * buffer.record_registers, firstSlot: slot, slots });
    left -= slots;
    slot = (slot + slots) % buffer.capacity;
  }
  return reads;
}

export function decodeRecords(buffer: EventBufferMapping, order: ByteOrder, read: RecordRead, words: readonly number[]): EventRecord[] {
  const { fields, record_registers: size } = buffer;
  return Array.from({ length: read.slots }, (_, i) => {
    const base = i * size;
    const u32 = (offset: number) => decodeRegisters(words.slice(base + offset, base + offset + 2), { type: 'uint32', order }) as number;
    const code = words[base + fields.code] ?? 0;
    return {
      slot: read.firstSlot + i,
      sequence: u32(fields.sequence),
      timestamp: u32(fields.timestamp),
      card: u32(fields.card),
      code,
      type: buffer.codes[String(code)],
    };
  });
}

export interface TakenEvents {
  /** Records newer than `lastSequence`, oldest first, each once. */
  events: EventRecord[];
  /** Sequence numbers skipped between the taken records: events the controller overwrote. */
  lost: number;
  /** What to persist with the events as the new `lastSequence`. */
  lastSequence: number;
}

/**
 * Keeps the records newer than `lastSequence` (what was already taken, persisted across agent
 * restarts; 0 before the first event) and counts the gaps. Sequence numbers are uint32 and start
 * at 1; one found below `lastSequence` for every record means the controller was reset or
 * replaced, and then every record is new.
 */
export function takeNew(records: readonly EventRecord[], lastSequence: number): TakenEvents {
  const sorted = [...records].sort((a, b) => a.sequence - b.sequence);
  const reset = (sorted.at(-1)?.sequence ?? lastSequence) < lastSequence;
  let last = reset ? 0 : lastSequence;
  const events: EventRecord[] = [];
  let lost = 0;
  for (const record of sorted) {
    if (record.sequence <= last) continue;
    if (last > 0) lost += record.sequence - last - 1;
    events.push(record);
    last = record.sequence;
  }
  return { events, lost, lastSequence: last };
}
