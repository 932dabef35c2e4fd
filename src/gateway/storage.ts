/**
 * What the gateway and the interfaces need from storage, as interfaces that src/db implements: the
 * domain and the REST API import no database code, and a test can hand them an in-memory store.
 */
import type { EventEntry } from '../contracts/event-entry.js';
import type { DeviceKind, EnergyPeriod, EventType, HistoryTier, Origin, Quantity } from '../contracts/vocabulary.js';
import type { RuleDefinition, StoredRule } from './stored-rule.js';

/** A device as stored between runs: names, settings, energy offsets. */
export interface StoredDevice {
  id: number;
  key: string;
  kind: DeviceKind;
  name: string;
  settings: Record<string, unknown>;
  energyOffsetWh: number;
  lastEnergyWh: number | null;
}

export interface DeviceStore {
  all(): StoredDevice[];
  insert(key: string, kind: DeviceKind, name: string): StoredDevice;
  rename(id: number, name: string): void;
  saveSettings(id: number, settings: Record<string, unknown>): void;
  saveEnergy(id: number, offsetWh: number, lastWh: number): void;
  remove(id: number): void;
}

export interface RuleFields {
  name: string;
  enabled: boolean;
  /** Where to put it; clamped to 1..n (n+1 for a new rule). */
  position: number;
  definition: RuleDefinition;
}

/** Rules kept in evaluation order, positions dense (1..n). */
export interface RulesStore {
  all(): StoredRule[];
  insert(fields: RuleFields): StoredRule;
  update(id: number, fields: RuleFields): StoredRule | undefined;
  remove(id: number): boolean;
  recordFiring(id: number, ts: number): void;
}

export interface HistoryQuery {
  deviceId: number;
  from: number;
  to: number;
  bucketMs: number;
}

export interface Bucket {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  /** Readings in the bucket (from the raw tier: stored readings). */
  count: number;
  values: Partial<Record<Quantity, { min: number; avg: number; max: number }>>;
}

export interface HistoryAnswer {
  bucketMs: number;
  /** Where the bulk of the answer comes from. */
  tier: HistoryTier;
  buckets: Bucket[];
}

/** Reading history as min/avg/max per bucket (widened to a coarser tier where the finer one has aged out). */
export interface HistoryReader {
  query(q: HistoryQuery): HistoryAnswer;
}

export interface PeriodEnergy {
  start: number;
  end: number;
  /** null: no counter reading falls in this period (its use, if any, shows in the next one that has one). */
  kwh: number | null;
}

/** Energy used per calendar period, from the monotonic counter. */
export interface EnergyReader {
  perPeriod(deviceId: number, period: EnergyPeriod, from: number, to: number): PeriodEnergy[];
}

export interface EventQuery {
  deviceId?: number;
  type?: EventType;
  origin?: Origin;
  from?: number;
  to?: number;
  /** Only events with an id below this (the next page). */
  before?: number;
  limit: number;
}

/** An entry as stored: the contract's fields, `ts` in epoch ms. */
export type StoredEvent = Omit<EventEntry, 'id' | 'ts'> & { id: number; ts: number };

/** The event log, newest first, paged by id. */
export interface EventLogReader {
  query(q: EventQuery): StoredEvent[];
}
