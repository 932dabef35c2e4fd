/**
 * The messages of the live stream (/api/live), shared with the dashboard: this file imports types
 * only, so the dashboard's bundle can include it without pulling in the server.
 */
import type { DeviceView } from './device.js';
import type { EventEntry } from './event-entry.js';
import type { FirmwareStatus } from './firmware.js';

/**
 * What a connection's credentials allow: `read` without a token (when `http.read_protection` is
 * off), `write` with the right token or when auth is off. The dashboard disables its controls on `read`.
 */
export type LiveAccess = 'read' | 'write';

/** What the stream sends; `device` messages carry the same object as GET /api/devices/:id. */
export type LiveMessage =
  | { type: 'snapshot'; devices: DeviceView[]; access: LiveAccess }
  | { type: 'device'; device: DeviceView }
  | { type: 'device.removed'; key: string; name: string }
  | { type: 'event'; event: EventEntry }
  /** A firmware update moved on (at most 4 per second while it transfers), as GET /api/devices/:id/firmware's `update`. */
  | { type: 'firmware'; status: FirmwareStatus }
  | { type: 'error'; error: string };

/** Close codes the dashboard understands (4000-4999 are the application's). */
export const CLOSE = { unauthorized: 4401, tooSlow: 4408, goingAway: 1001, tryAgainLater: 1013 } as const;

/** The WebSocket subprotocol of the stream; the token rides along as `bearer.<token>`. */
export const LIVE_PROTOCOL = 'canplug.v1';
