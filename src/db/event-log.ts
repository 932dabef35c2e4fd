/** Reading the event log: filters and keyset paging (newest first). */
import type { EventLogReader, EventQuery, StoredEvent } from '../gateway/storage.js';
import type { Db } from './database.js';

type Row = Omit<StoredEvent, 'detail'> & { detail: string | null };

export class EventLog implements EventLogReader {
  constructor(private readonly db: Db) {}

  query(q: EventQuery): StoredEvent[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined) => {
      if (value === undefined) return;
      where.push(clause);
      params.push(value);
    };
    add('e.device_id = ?', q.deviceId);
    add('e.type = ?', q.type);
    add('e.origin = ?', q.origin);
    add('e.ts >= ?', q.from);
    add('e.ts < ?', q.to);
    add('e.id < ?', q.before);
    const sql = `SELECT e.id, e.ts, d.name AS device, e.type, e.cause, e.origin, e.detail
      FROM events e LEFT JOIN devices d ON d.id = e.device_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.id DESC LIMIT ?`;
    const rows = this.db.prepare<(string | number)[], Row>(sql).all(...params, q.limit);
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : JSON.parse(r.detail) }));
  }
}
