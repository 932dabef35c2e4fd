/**
 * Clearing retained topics that discovery configs no longer read: a renamed or removed device's old
 * state and availability, the topics of a base topic the gateway no longer uses. They are cleared a
 * moment after the configs moved away, never before: Home Assistant re-subscribes an entity
 * asynchronously after its config changes, and an entity that still reads a topic when it is cleared
 * renders its template on "" and logs an error (docs/home-assistant.md, "Renames and removal").
 */
import type { MqttConnection } from './connection.js';

/** How long Home Assistant is given to apply config updates before the old topics are cleared. */
export const RETIRE_DELAY_MS = 2000;

export class Retirement {
  private readonly pending = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly connection: MqttConnection,
    private readonly delayMs = RETIRE_DELAY_MS,
  ) {}

  /** Clears these retained topics after the delay (unless kept meanwhile). */
  clearLater(topics: string[]): void {
    for (const topic of topics) {
      clearTimeout(this.pending.get(topic));
      const timer = setTimeout(() => this.clear(topic), this.delayMs);
      timer.unref();
      this.pending.set(topic, timer);
    }
  }

  /** The topic is in use again (a device renamed back, a removed node that came back): keep it. */
  keep(topic: string): void {
    clearTimeout(this.pending.get(topic));
    this.pending.delete(topic);
  }

  /** Clears everything pending now (shutdown: the configs moved long ago, the process is going away). */
  flush(): void {
    for (const topic of [...this.pending.keys()]) this.clear(topic);
  }

  private clear(topic: string): void {
    clearTimeout(this.pending.get(topic));
    // Offline: try again later rather than leave the old topic retained on the broker for good.
    if (!this.connection.connected) return this.clearLater([topic]);
    this.pending.delete(topic);
    this.connection.publish(topic, '', { retain: true, qos: 1 });
  }
}
