/** Rules in SQLite: definitions as JSON, positions kept dense (1..n) on every insert, move and delete. */
import type { RuleFields, RulesStore } from '../gateway/storage.js';
import type { RuleDefinition, StoredRule } from '../gateway/stored-rule.js';
import type { Db } from './database.js';

interface Row {
  id: number;
  position: number;
  name: string;
  enabled: number;
  definition: string;
  last_fired: number | null;
  fire_count: number;
}

const fromRow = (r: Row): StoredRule => ({
  ...(JSON.parse(r.definition) as RuleDefinition),
  id: r.id,
  name: r.name,
  enabled: r.enabled === 1,
  position: r.position,
  lastFired: r.last_fired,
  fireCount: r.fire_count,
});

const definitionOf = (d: RuleDefinition): string =>
  JSON.stringify({ when: d.when, at: d.at, between: d.between, days: d.days, then: d.then });

export class SqliteRulesStore implements RulesStore {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      all: db.prepare<[], Row>('SELECT * FROM rules ORDER BY position, id'),
      get: db.prepare<[number], Row>('SELECT * FROM rules WHERE id = ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM rules'),
      insert: db.prepare<[number, string, number, string, number, number], Row>(
        'INSERT INTO rules (position, name, enabled, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      ),
      update: db.prepare('UPDATE rules SET position = ?, name = ?, enabled = ?, definition = ?, updated_at = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM rules WHERE id = ?'),
      shift: db.prepare('UPDATE rules SET position = position + ? WHERE position >= ? AND position <= ?'),
      fired: db.prepare('UPDATE rules SET last_fired = ?, fire_count = fire_count + 1 WHERE id = ?'),
    };
  }

  all(): StoredRule[] {
    return this.s.all.all().map(fromRow);
  }

  get(id: number): StoredRule | undefined {
    const row = this.s.get.get(id);
    return row && fromRow(row);
  }

  insert(fields: RuleFields): StoredRule {
    return this.db.transaction(() => {
      const n = this.s.count.get()!.n;
      const position = Math.min(Math.max(1, fields.position), n + 1);
      this.s.shift.run(1, position, n);
      const now = Date.now();
      return fromRow(this.s.insert.get(position, fields.name, fields.enabled ? 1 : 0, definitionOf(fields.definition), now, now)!);
    })();
  }

  update(id: number, fields: RuleFields): StoredRule | undefined {
    return this.db.transaction(() => {
      const current = this.s.get.get(id);
      if (!current) return undefined;
      const n = this.s.count.get()!.n;
      const to = Math.min(Math.max(1, fields.position), n);
      const from = current.position;
      if (to < from) this.s.shift.run(1, to, from - 1);
      if (to > from) this.s.shift.run(-1, from + 1, to);
      this.s.update.run(to, fields.name, fields.enabled ? 1 : 0, definitionOf(fields.definition), Date.now(), id);
      return fromRow(this.s.get.get(id)!);
    })();
  }

  remove(id: number): boolean {
    return this.db.transaction(() => {
      const current = this.s.get.get(id);
      if (!current) return false;
      this.s.remove.run(id);
      this.s.shift.run(-1, current.position + 1, Number.MAX_SAFE_INTEGER);
      return true;
    })();
  }

  recordFiring(id: number, ts: number): void {
    this.s.fired.run(ts, id);
  }
}
