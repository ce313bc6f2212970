import { EventEmitter } from 'node:events';
import type { AlarmRecord } from '../alarms/alarm-book.js';
import type { CommandRecord } from '../store/command-log.js';
import type { StoredEvent } from '../store/event-log.js';
import type { DeviceRecord } from '../store/registry.js';
import type { StoredReading } from '../store/telemetry/port.js';
import type { WorkOrderRecord } from '../work-orders/work-order-book.js';

/** What the hub pushes to live clients (the dashboard): new readings, events, changed devices and commands. */
export type LiveMessage =
  | { type: 'readings'; readings: StoredReading[] }
  | { type: 'events'; events: StoredEvent[] }
  | { type: 'device'; device: DeviceRecord }
  | { type: 'command'; command: CommandRecord }
  | { type: 'alarm'; alarm: AlarmRecord }
  | { type: 'work_order'; work_order: WorkOrderRecord };

/** In-process fan-out from ingestion to WebSocket clients. */
export class LiveFeed {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every dashboard tab is a listener; there is no fixed bound worth warning at.
    this.emitter.setMaxListeners(0);
  }

  publish(message: LiveMessage): void {
    this.emitter.emit('message', message);
  }

  subscribe(listener: (message: LiveMessage) => void): () => void {
    this.emitter.on('message', listener);
    return () => this.emitter.off('message', listener);
  }
}
