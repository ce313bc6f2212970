import { Readable } from 'node:stream';
import type { IStore, Packet } from 'mqtt';

/**
 * mqtt.js's outgoing store, kept empty. mqtt.js would otherwise keep every unacknowledged QoS 1
 * message in memory and send it again after a reconnection, beside the copy the outbox sends:
 * a message the quota had dropped meanwhile would still arrive, and the drop count would lie.
 * The outbox is the one place unacknowledged messages live.
 */
export class NoReplayStore implements IStore {
  put(_packet: Packet, done: (error?: Error) => void): this {
    done();
    return this;
  }

  createStream(): ReturnType<IStore['createStream']> {
    return Readable.from([]) as unknown as ReturnType<IStore['createStream']>;
  }

  /** The acknowledgement of a message mqtt.js no longer holds: nothing to remove, not an error. */
  del(packet: Pick<Packet, 'messageId'>, done: (error?: Error, packet?: Packet) => void): this {
    done(undefined, packet as Packet);
    return this;
  }

  get(_packet: Pick<Packet, 'messageId'>, done: (error?: Error, packet?: Packet) => void): this {
    done(new Error('not kept: the outbox holds unacknowledged messages'));
    return this;
  }

  close(done: (error?: Error) => void): void {
    done();
  }
}
