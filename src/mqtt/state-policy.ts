/**
 * When a device's state JSON is worth publishing (docs/home-assistant.md, "Publish policy"). Home
 * Assistant's recorder writes a row for every state change, so readings go out when one moved beyond
 * its deadband or when the last publish is `max_interval_s` old (the shared ChangeFilter); what a
 * person or an automation acts on (relay, interlock, fault, alarm, firmware) goes out at once. Uptime
 * and frames lost ride along with whatever is published. REST, the live stream and SQLite still get
 * every reading.
 */
import { ChangeFilter, type Sample } from '../gateway/change-filter.js';
import type { Config } from '../config/config.js';
import { QUANTITIES } from '../contracts/vocabulary.js';

/** State JSON keys published the moment they change. */
export const PUBLISHED_AT_ONCE = ['state', 'interlock', 'fault', 'problem', 'firmware'] as const;

export class StatePolicy {
  private readonly filter: ChangeFilter<string>;
  /** Per device key: the at-once fields as last published. */
  private readonly atOnce = new Map<string, string>();

  constructor(
    config: Config['mqtt']['publish'],
    private readonly clock: () => number,
  ) {
    const { max_interval_s, ...deadbands } = config;
    this.filter = new ChangeFilter({ deadbands, maxIntervalMs: max_interval_s * 1000 });
  }

  /** True when this state should be published now; it is then taken as published. */
  admit(key: string, payload: Record<string, unknown>): boolean {
    // Every frame comes through here: each field string and sample is made once.
    const atOnce = atOnceFields(payload);
    if (this.atOnce.get(key) !== atOnce) {
      this.atOnce.set(key, atOnce);
      this.filter.record(key, sample(payload), this.clock());
      return true;
    }
    return this.filter.admit(key, sample(payload), this.clock());
  }

  /** The state was published regardless of the policy (a new device, a rename, a reconnect). */
  published(key: string, payload: Record<string, unknown>): void {
    this.atOnce.set(key, atOnceFields(payload));
    this.filter.record(key, sample(payload), this.clock());
  }

  forget(key: string): void {
    this.atOnce.delete(key);
    this.filter.forget(key);
  }
}

/** The at-once fields as one string to compare; `firmware`, the only free text, comes last, so no two states join alike. */
function atOnceFields(payload: Record<string, unknown>): string {
  let fields = '';
  for (const k of PUBLISHED_AT_ONCE) fields += `${String(payload[k])}|`;
  return fields;
}

function sample(payload: Record<string, unknown>): Sample {
  const values: Sample = {};
  for (const q of QUANTITIES) if (typeof payload[q] === 'number') values[q] = payload[q];
  return values;
}
