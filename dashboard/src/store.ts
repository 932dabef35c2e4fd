/** The devices as the live stream last described them, and who wants to hear about changes. */
import type { DeviceView } from '../../src/api/live-protocol.js';

type Listener = (device: DeviceView | undefined, key: string) => void;

class DeviceStore {
  readonly devices = new Map<string, DeviceView>();
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
    }
    for (const key of gone) this.devices.delete(key);
    this.loaded = true;
    for (const l of this.listeners) l(undefined, '*');
  }

  update(device: DeviceView): void {
    this.devices.set(device.key, device);
    for (const l of this.listeners) l(device, device.key);
  }

  remove(key: string): void {
    this.devices.delete(key);
    for (const l of this.listeners) l(undefined, key);
  }

  byName(name: string): DeviceView | undefined {
    for (const d of this.devices.values()) if (d.name === name) return d;
    return undefined;
  }

  /** Shown devices in a stable order: by room, then name. */
  visible(): DeviceView[] {
    return [...this.devices.values()]
      .filter((d) => d.settings.hidden !== true)
      .sort((a, b) => String(a.settings.room ?? '').localeCompare(String(b.settings.room ?? '')) || a.name.localeCompare(b.name, undefined, { numeric: true }));
  }
}

export const store = new DeviceStore();
