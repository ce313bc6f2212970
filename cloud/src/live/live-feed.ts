import { EventEmitter } from 'node:events';
import type { DeviceRecord } from '../store/registry.js';
import type { StoredReading } from '../store/telemetry/port.js';

/** What the hub pushes to live clients (the dashboard): new readings and changed devices. */
export type LiveMessage =
  | { type: 'readings'; readings: StoredReading[] }
  | { type: 'device'; device: DeviceRecord };

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
