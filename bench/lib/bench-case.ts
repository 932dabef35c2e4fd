/** What a benchmark case is given and what it returns (bench/run.ts prints and stores the rows). */
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../../test/helpers/mosquitto.js';

export interface BenchOptions {
  /** Short runs, one repetition: a smoke test of the suite, not numbers to quote. */
  quick: boolean;
  /** Repetitions of each measurement (the median is reported). */
  runs: number;
  /** Soak length. */
  minutes: number;
  /** Gateway processes on the TypeScript sources through tsx, not the compiled dist/. */
  fromSource?: boolean;
  /** Write V8 CPU profiles of the gateway processes here. */
  cpuProfDir?: string;
  log: (line: string) => void;
}

export interface Row {
  case: string;
  scenario: string;
  /** The numbers, in words, for the table. */
  result: string;
  target?: string;
  /** undefined: no target for this row. */
  met?: boolean;
  /** Everything measured (the JSON file). */
  data: Record<string, unknown>;
}

export interface BenchCase {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<Row[]>;
}

/**
 * Nice value of every process a benchmark starts (and of the bench itself): on a machine shared with
 * other work, the measured processes get the CPU first, so the numbers show this code rather than
 * the neighbours. Needs root; without it the processes keep their priority (recorded in the results).
 */
export const BENCH_NICE = -10;

/** Raises a process's priority to BENCH_NICE; false when not allowed. */
export function prioritize(pid = 0): boolean {
  try {
    setPriority(pid, BENCH_NICE);
    return true;
  } catch {
    return false;
  }
}

/**
 * A Mosquitto broker for the duration of `fn` (the tests' helper: a free port on 127.0.0.1), with no
 * limit on queued messages and TCP_NODELAY toward subscribers, so what is measured is the gateway:
 * with Nagle's algorithm on (Mosquitto's default) a small message can wait for the subscriber's
 * delayed ACK, 40 ms.
 */
export async function withMosquitto<T>(fn: (broker: Mosquitto) => Promise<T>): Promise<T> {
  const broker = await startMosquitto({ extraLines: ['max_queued_messages 0', 'set_tcp_nodelay true'] });
  prioritize(broker.pid);
  try {
    return await fn(broker);
  } finally {
    await broker.close();
  }
}

/** A temporary directory for the duration of `fn`. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-bench-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every reading published on MQTT: the counter in each power frame moves the voltage, and with no
 * voltage deadband each frame is a state message (the heaviest MQTT load; the default publish policy
 * sends far fewer, docs/home-assistant.md).
 */
export const EVERY_READING = { voltage: { absolute: 0 } };

/** A gateway config for a benchmark: an external broker, free ports, a database in `dir`, no log. */
export function benchConfig(dir: string, mqttUrl: string, overrides: { nodes?: number[]; auth?: boolean } = {}): Record<string, unknown> {
  return {
    can: { transport: 'sim', sim: { nodes: overrides.nodes ?? [], wander: false } },
    mqtt: { url: mqttUrl, publish: EVERY_READING },
    http: { port: 0, auth: overrides.auth ?? true, rate_limit: 0 },
    database: { path: join(dir, 'canplug.db') },
    udp: { port: 0 },
    log: { level: 'silent' },
  };
}
