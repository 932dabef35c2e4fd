/**
 * Per-node plausibility checks the registry runs on what a node id sends (docs/reliability.md):
 * - IdentityCheck: two physical nodes configured with the same node id. Their frames interleave,
 *   so one "node" contradicts itself: its uptime goes back without a boot heartbeat or runs ahead
 *   of the clock, and its seq counters jump back again and again. One reboot explains one such
 *   step, never a stream of them.
 * - FlapDamper: a node whose heartbeats keep missing the timeout. After a few drops in a minute it
 *   is reported online again only once it has kept its heartbeat for a while, so Home Assistant and
 *   the event log see a handful of changes instead of one pair every few seconds.
 * All times are monotonicMs().
 */
import type { NodeStateName } from '../can/codec.js';

/** Uptime may run ahead of the gateway's clock by this much between two heartbeats (frames queued in a stall). */
const UPTIME_SLACK_S = 5;
/** Evidence is counted over this window; a conflict clears after this long without any. */
export const IDENTITY_WINDOW_MS = 30_000;
/** Uptime contradictions in the window that make a conflict (one reboot without its boot heartbeat makes one). */
const UPTIME_EVIDENCE = 2;
/** Seq counters going back in the window that make a conflict (one reboot makes at most one per frame type). */
const SEQ_EVIDENCE = 6;

export class IdentityCheck {
  /** Why the node id is taken to be shared, while it is. */
  conflict: string | undefined;
  private last: { uptime: number; at: number } | undefined;
  private uptimeEvidence: number[] = [];
  private seqEvidence: number[] = [];
  private lastEvidenceAt = -Infinity;

  /** Checks a heartbeat; returns 'started' or 'cleared' when the verdict changes. */
  heartbeat(state: NodeStateName, uptime: number, now: number): 'started' | 'cleared' | undefined {
    const last = this.last;
    this.last = { uptime, at: now };
    if (last && state !== 'boot') {
      const elapsedS = (now - last.at) / 1000;
      if (uptime < last.uptime)
        return this.evidence(
          this.uptimeEvidence,
          UPTIME_EVIDENCE,
          now,
          `uptime went back from ${last.uptime} s to ${uptime} s without a boot heartbeat`,
        );
      if (uptime > last.uptime + elapsedS + UPTIME_SLACK_S) {
        return this.evidence(
          this.uptimeEvidence,
          UPTIME_EVIDENCE,
          now,
          `uptime ran ahead from ${last.uptime} s to ${uptime} s in ${elapsedS.toFixed(1)} s`,
        );
      }
    }
    if (this.conflict !== undefined && now - this.lastEvidenceAt > IDENTITY_WINDOW_MS) {
      this.conflict = undefined;
      return 'cleared';
    }
    return undefined;
  }

  /** A seq counter went back (or repeated): returns 'started' when that makes a conflict. */
  seqWentBack(kind: string, from: number, to: number, now: number): 'started' | undefined {
    return this.evidence(
      this.seqEvidence,
      SEQ_EVIDENCE,
      now,
      `${kind} seq counter went back ${SEQ_EVIDENCE} times in ${IDENTITY_WINDOW_MS / 1000} s, last from ${from} to ${to}`,
    );
  }

  private evidence(list: number[], needed: number, now: number, detail: string): 'started' | undefined {
    this.lastEvidenceAt = now;
    list.push(now);
    while (list.length > 0 && now - list[0] > IDENTITY_WINDOW_MS) list.shift();
    if (list.length > needed) list.shift();
    if (this.conflict !== undefined || list.length < needed) return undefined;
    this.conflict = detail;
    return 'started';
  }
}

/** Drops in the window that make a node "flapping". */
const FLAP_DROPS = 3;
export const FLAP_WINDOW_MS = 60_000;

export class FlapDamper {
  private drops: number[] = [];
  private steadySince: number | undefined;
  /** True while the node is held back (reported once, as an alarm). */
  flapping = false;

  /** The node was reported offline by its timeout. */
  dropped(now: number): 'started' | undefined {
    this.drops.push(now);
    this.steadySince = undefined;
    this.forget(now);
    if (this.flapping || this.drops.length < FLAP_DROPS) return undefined;
    this.flapping = true;
    return 'started';
  }

  /** The heartbeat went quiet again while held back: the steady period starts over. */
  interrupted(): void {
    this.steadySince = undefined;
  }

  /** A heartbeat from an offline node: may it be reported online now? A flapping one after `holdMs` of steady heartbeats. */
  mayComeBack(now: number, holdMs: number): boolean {
    this.forget(now);
    if (!this.flapping) return true;
    this.steadySince ??= now;
    return now - this.steadySince >= holdMs;
  }

  /** Called while online: the alarm clears once a whole window passed without a drop. */
  settle(now: number): 'cleared' | undefined {
    this.forget(now);
    if (!this.flapping || this.drops.length > 0) return undefined;
    this.flapping = false;
    return 'cleared';
  }

  get recentDrops(): number {
    return this.drops.length;
  }

  private forget(now: number): void {
    while (this.drops.length > 0 && now - this.drops[0] > FLAP_WINDOW_MS) this.drops.shift();
  }
}
