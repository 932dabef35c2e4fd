/**
 * Robustness figures for the end-of-run table (scripts/test.mjs prints test-artifacts/figures.jsonl).
 * A test records its line only after its assertions passed, so a figure is never printed for a
 * failed run. Guest tests (test/vcan) write to the same file: the guest's root is the host's.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FIGURES_FILE } from '../../scripts/figures.mjs';

export interface Figure {
  kind: 'fuzz' | 'fault' | 'security';
  /** What was tried, e.g. "CAN frames into a running gateway". */
  name: string;
  /** Inputs tried (fast-check runs plus the hand-made corpus). */
  cases?: number;
  /** Crashes seen: a crash fails the test, so a recorded figure says 0. */
  crashes?: number;
  /** The fault and how often it was survived, e.g. "broker SIGKILLed twice". */
  survived?: string;
  /** Readings the gateway accepted that did not reach SQLite. */
  lost?: number;
  note?: string;
}

export function recordFigure(figure: Figure): void {
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  // One write per line with O_APPEND: lines from parallel test processes do not interleave.
  appendFileSync(FIGURES_FILE, `${JSON.stringify(figure)}\n`);
}
