// Types for run-in-guest.mjs (plain JavaScript so it runs with `node` alone).
export interface GuestAvailability {
  ok: boolean;
  /** Why no guest can start here (what to install), when ok is false. */
  reason?: string;
  kernel?: string;
}
export interface GuestTest {
  type: 'pass' | 'fail';
  name: string;
  nesting: number;
  file?: string;
  skip?: string;
  todo?: string;
  durationMs?: number;
  error?: string;
}
export interface GuestResult {
  /** Exit status of the guest's `node --test`; null when the suite never finished (see console). */
  status: number | null;
  timedOut: boolean;
  /** The guest was killed through `signal` (a power cut), not by a timeout. */
  cut: boolean;
  exit: { code: number | null; signal?: string | null; error?: Error };
  bootMs: number | null;
  suiteMs: number | null;
  totalMs: number;
  tests: GuestTest[];
  /** Diagnostics the guest tests reported as "metric ...". */
  metrics: { file?: string; message: string }[];
  tap: string;
  /** The tail of the guest console (kernel messages, init script, live test output). */
  console: string;
  /** Host processes of the guest still alive after it ended (should be empty). */
  leftover: number[];
  /** Kept for a failed run; undefined after a clean pass. */
  runDir?: string;
}
export const REPO_ROOT: string;
export function guestAvailability(): GuestAvailability;
export function vcanTestFiles(): string[];
export function runInGuest(options?: {
  files?: string[];
  timeoutMs?: number;
  mem?: string;
  onConsole?: (line: string) => void;
  /** An ext4 image file: the guest's /dev/ubda, mounted at /run/disk (CANPLUG_GUEST_DISK). */
  disk?: string;
  /** More environment for the guest's tests. */
  env?: Record<string, string>;
  /** Aborting it kills the guest at once, as a power cut would. */
  signal?: AbortSignal;
}): Promise<GuestResult>;
