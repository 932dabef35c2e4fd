/** Feeds readings and event-log entries from the event bus into the batched writer. */
import type { EventBus, LogEvent } from '../gateway/events.js';
import type { Reading } from '../gateway/device.js';
import type { BatchWriter } from './writer.js';

export class Recorder {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly events: EventBus,
    private readonly writer: BatchWriter,
  ) {}

  start(): void {
    this.unsubscribe = this.events.subscribe('recorder', {
      // A reading is its device, time, relay and the quantities the frame carried: stored as they are.
      reading: ({ device, ...values }: Reading) => this.writer.addReading({ deviceId: device.id, ...values }),
      log: (e: LogEvent) =>
        this.writer.addEvent({ ts: e.ts, deviceId: e.device?.id, type: e.type, cause: e.cause, origin: e.origin, detail: e.detail }),
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }
}
