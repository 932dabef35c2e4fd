/**
 * A node's Wh counter as a monotonic total. When the counter goes back (a flash reset to 0, or a
 * reboot that restored an older persisted value) the total carries on from where it was: never
 * down (Home Assistant reads a decrease of a total_increasing sensor as a new meter), never counted
 * twice. The registry persists `offsetWh` and `lastWh` on every change (with the readings' next commit).
 */
export class EnergyTotal {
  /** What the node's counter lost at its resets, added back. */
  offsetWh: number;
  /** The node's counter as last reported (null before the first report). */
  lastWh: number | null;
  /** The total before the counter last went back: undone if that report came from a second node. */
  private beforeReset?: { offsetWh: number; lastWh: number; at: number };

  constructor(offsetWh: number, lastWh: number | null) {
    this.offsetWh = offsetWh;
    this.lastWh = lastWh;
  }

  /** The total in kWh, or undefined before the first report. */
  get kWh(): number | undefined {
    return this.lastWh === null ? undefined : (this.offsetWh + this.lastWh) / 1000;
  }

  /** Takes a counter report at monotonic time `at`; says whether the counter changed or went back. */
  update(counterWh: number, at: number): { changed: boolean; wentBack: boolean } {
    const last = this.lastWh;
    const wentBack = last !== null && counterWh < last;
    if (wentBack) {
      this.beforeReset = { offsetWh: this.offsetWh, lastWh: last, at };
      this.offsetWh += last - counterWh;
    }
    this.lastWh = counterWh;
    return { changed: counterWh !== last, wentBack };
  }

  /** Undoes a counter reset seen within `windowMs` before `at` (it was another node's counter); true if one was. */
  undoResetSince(at: number, windowMs: number): boolean {
    const reset = this.beforeReset;
    if (!reset || at - reset.at > windowMs) return false;
    this.offsetWh = reset.offsetWh;
    this.lastWh = reset.lastWh;
    this.beforeReset = undefined;
    return true;
  }
}
