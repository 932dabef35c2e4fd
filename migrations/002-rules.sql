-- If-this-then-that rules and schedules (docs/rules.md), evaluated in position order (1 first).
CREATE TABLE rules (
  id INTEGER PRIMARY KEY,
  position INTEGER NOT NULL,             -- dense 1..n
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  definition TEXT NOT NULL,              -- JSON: when / at / between / days / then, devices by key
  last_fired INTEGER,                    -- ms since the epoch
  fire_count INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX rules_position ON rules (position);
