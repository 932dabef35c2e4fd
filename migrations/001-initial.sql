-- Devices known to the gateway: CAN sockets, the legacy seed socket, Wi-Fi plugs.
CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,              -- 'can:1', 'seed', 'wifi:1234567'
  kind TEXT NOT NULL,                    -- can | seed | wifi
  name TEXT NOT NULL UNIQUE,             -- friendly name used in topics and URLs
  settings TEXT NOT NULL DEFAULT '{}',   -- per-device overrides (JSON)
  energy_offset_wh REAL NOT NULL DEFAULT 0,  -- added to the node's counter to keep kWh monotonic
  last_energy_wh REAL,                   -- the node's last counter value
  created_at INTEGER NOT NULL
);

-- One row per measurement frame; columns a frame does not carry stay NULL.
CREATE TABLE readings (
  device_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,                   -- ms since the epoch
  voltage REAL,
  current REAL,
  power REAL,
  energy REAL,                           -- kWh, monotonic
  humidity REAL,
  temperature REAL,
  relay INTEGER
);
CREATE INDEX readings_device_ts ON readings (device_id, ts);

-- The event log: trips, refusals, resets, limit changes, availability, commands.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  device_id INTEGER,
  type TEXT NOT NULL,
  cause TEXT,
  origin TEXT,
  detail TEXT                            -- JSON
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_device_ts ON events (device_id, ts);
