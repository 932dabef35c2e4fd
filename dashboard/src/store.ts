/**
 * The devices as the live stream last described them, and who wants to hear about changes. Views
 * render from here and follow its changes, so a view is right however it was reached (a cold deep
 * link, a reload, back/forward): nothing reads the device list once and keeps it.
 */
import type { DeviceView } from '../../src/contracts/device.js';
import { PowerTrail } from './power-trail.js';

export interface StoreChange {
  /** The device that changed, or '*' for a whole new snapshot. */
  key: string;
  /** Its new state; undefined when it was removed (or for a snapshot). */
  device: DeviceView | undefined;
  /** The list a picker shows changed: a device came, went, was renamed, moved room, or hidden. */
  listChanged: boolean;
}

type Listener = (change: StoreChange) => void;

/** What a picker shows of a device: a change here changes the list. */
const listing = (d: DeviceView) => `${d.name}\u0000${String(d.settings.room ?? '')}\u0000${d.settings.hidden === true}`;

class DeviceStore {
  readonly devices = new Map<string, DeviceView>();
  /** Each device's power over the last minutes, for the cards' sparklines. */
  readonly power = new PowerTrail();
  private readonly listeners = new Set<Listener>();
  /** True once the first snapshot arrived. */
  loaded = false;

  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(devices: DeviceView[]): void {
    const gone = new Set(this.devices.keys());
    for (const d of devices) {
      gone.delete(d.key);
      this.devices.set(d.key, d);
      this.power.record(d);
    }
    for (const key of gone) this.drop(key);
    this.loaded = true;
    this.emit({ key: '*', device: undefined, listChanged: true });
  }

  update(device: DeviceView): void {
    const before = this.devices.get(device.key);
    this.devices.set(device.key, device);
    this.power.record(device);
    this.emit({ key: device.key, device, listChanged: !before || listing(before) !== listing(device) });
  }

  remove(key: string): void {
    this.drop(key);
    this.emit({ key, device: undefined, listChanged: true });
  }

  byName(name: string): DeviceView | undefined {
    for (const d of this.devices.values()) if (d.name === name) return d;
    return undefined;
  }

  /** Shown devices in a stable order: by room, then name. */
  visible(): DeviceView[] {
    return [...this.devices.values()]
      .filter((d) => d.settings.hidden !== true)
      .sort(
        (a, b) =>
          String(a.settings.room ?? '').localeCompare(String(b.settings.room ?? '')) ||
          a.name.localeCompare(b.name, undefined, { numeric: true }),
      );
  }

  private drop(key: string): void {
    this.devices.delete(key);
    this.power.forget(key);
  }

  private emit(change: StoreChange): void {
    for (const l of this.listeners) l(change);
  }
}

export const store = new DeviceStore();
