/** Persistence of what the gateway knows about devices between runs: names, settings, energy offsets. */
import type { DeviceKind } from '../contracts/vocabulary.js';
import type { DeviceStore, StoredDevice } from '../gateway/storage.js';
import type { Db } from './database.js';
import type { EnergyRow } from './writer.js';

interface Row {
  id: number;
  key: string;
  /** Written only by the registry, from DEVICE_KINDS. */
  kind: DeviceKind;
  name: string;
  settings: string;
  energy_offset_wh: number;
  last_energy_wh: number | null;
}

const fromRow = (r: Row): StoredDevice => ({
  id: r.id,
  key: r.key,
  kind: r.kind,
  name: r.name,
  settings: JSON.parse(r.settings) as Record<string, unknown>,
  energyOffsetWh: r.energy_offset_wh,
  lastEnergyWh: r.last_energy_wh,
});

export interface DeviceStoreOptions {
  /**
   * Where energy offsets go instead of an immediate UPDATE: the daemon's batch writer, which saves
   * them in the same commit as the readings (the energy total changes every few seconds: a commit of
   * its own each time would undo the commit interval), so stored totals never go backwards.
   */
  energyWriter?: { addEnergy(row: EnergyRow): void };
}

export class SqliteDeviceStore implements DeviceStore {
  private readonly statements;

  constructor(
    db: Db,
    private readonly options: DeviceStoreOptions = {},
  ) {
    this.statements = {
      all: db.prepare<[], Row>('SELECT * FROM devices ORDER BY id'),
      insert: db.prepare<[string, string, string, number], Row>(
        'INSERT INTO devices (key, kind, name, created_at) VALUES (?, ?, ?, ?) RETURNING *',
      ),
      rename: db.prepare('UPDATE devices SET name = ? WHERE id = ?'),
      settings: db.prepare('UPDATE devices SET settings = ? WHERE id = ?'),
      energy: db.prepare('UPDATE devices SET energy_offset_wh = ?, last_energy_wh = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM devices WHERE id = ?'),
    };
  }

  all(): StoredDevice[] {
    return this.statements.all.all().map(fromRow);
  }

  insert(key: string, kind: DeviceKind, name: string): StoredDevice {
    return fromRow(this.statements.insert.get(key, kind, name, Date.now())!);
  }

  rename(id: number, name: string): void {
    this.statements.rename.run(name, id);
  }

  saveSettings(id: number, settings: Record<string, unknown>): void {
    this.statements.settings.run(JSON.stringify(settings), id);
  }

  saveEnergy(id: number, offsetWh: number, lastWh: number): void {
    if (this.options.energyWriter) this.options.energyWriter.addEnergy({ deviceId: id, offsetWh, lastWh });
    else this.statements.energy.run(offsetWh, lastWh, id);
  }

  remove(id: number): void {
    this.statements.remove.run(id);
  }
}
