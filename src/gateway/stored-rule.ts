/** A rule as the engine runs it and SQLite stores it: devices by key, so a rename is harmless. */
import type { Day, Relation, RuleQuantity } from '../contracts/vocabulary.js';

/** A condition as the engine runs it: the device by key, the value as a number (ON = 1, OFF = 0). */
export interface ResolvedCondition {
  deviceKey: string;
  quantity: RuleQuantity;
  relation: Relation;
  value: number;
  forS: number;
}

export type ResolvedAction =
  | { action: 'switch'; deviceKey: string; state: 'on' | 'off' | 'toggle' }
  | { action: 'publish'; topic: string; payload: string; retain: boolean }
  | { action: 'event'; message: string };

/** What SQLite stores as the rule's definition (JSON). */
export interface RuleDefinition {
  when: ResolvedCondition | null;
  at: string | null;
  between: { from: string; to: string } | null;
  days: Day[] | null;
  then: ResolvedAction;
}

export interface StoredRule extends RuleDefinition {
  id: number;
  name: string;
  enabled: boolean;
  position: number;
  /** ms since the epoch */
  lastFired: number | null;
  fireCount: number;
}
