-- Storage for an SD card (docs/service.md, "Storage on an SD card").
--
-- Every table a commit writes to is ordered by time first, so the rows of one commit, whatever the
-- number of devices, land together at the right edge of one b-tree: a commit rewrites a page or two
-- per table instead of one page per device. The raw readings lose their separate (device_id, ts)
-- index (one b-tree instead of two); queries by device scan a time range, which the history keeps
-- short by reading long ranges from the rollups.
--
-- Rollup values become fixed-point integers (value x scale: voltage 0.1 V, current mA, power 0.1 W,
-- energy Wh, humidity 0.1 %RH, temperature 0.1 degC; src/db/rollups.ts STORED_SCALE): SQLite stores
-- them in 1 to 4 bytes instead of 8, which halves a minute row.
--
-- Raw readings older than 7 days before the newest one are not carried over: every one of them is
-- already in the per-minute and hourly rollups (migration 003 built them from all readings), and the
-- raw tier now keeps days, not months (database.retention_days). Copying months of raw readings
-- would also hold a Raspberry Pi's start-up for many minutes.

CREATE TABLE readings_new (
  ts INTEGER NOT NULL,                   -- ms since the epoch
  device_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,                 -- the quantities the frame carried, a bit each: voltage 1, current 2,
                                         -- power 4, energy 8, humidity 16, temperature 32 (two frames of one
                                         -- device in the same millisecond stay two rows)
  voltage REAL,
  current REAL,
  power REAL,
  energy REAL,                           -- kWh, monotonic
  humidity REAL,
  temperature REAL,
  relay INTEGER,
  PRIMARY KEY (ts, device_id, kind)
) WITHOUT ROWID;

-- A frame stored twice in the same millisecond becomes one row.
INSERT INTO readings_new
SELECT ts, device_id,
  (voltage IS NOT NULL) + 2 * (current IS NOT NULL) + 4 * (power IS NOT NULL) + 8 * (energy IS NOT NULL) + 16 * (humidity IS NOT NULL) + 32 * (temperature IS NOT NULL),
  round(voltage, 1), round(current, 3), round(power, 1), round(energy, 3), round(humidity, 1), round(temperature, 1), relay
FROM readings WHERE ts >= (SELECT max(ts) FROM readings) - 7 * 86400000 ORDER BY ts
ON CONFLICT (ts, device_id, kind) DO UPDATE SET
  voltage = coalesce(excluded.voltage, voltage), current = coalesce(excluded.current, current),
  power = coalesce(excluded.power, power), energy = coalesce(excluded.energy, energy),
  humidity = coalesce(excluded.humidity, humidity), temperature = coalesce(excluded.temperature, temperature),
  relay = coalesce(excluded.relay, relay);

DROP TABLE readings;
ALTER TABLE readings_new RENAME TO readings;

CREATE TABLE readings_1m_new (
  t INTEGER NOT NULL,                    -- start of the minute, ms since the epoch
  device_id INTEGER NOT NULL,
  n INTEGER NOT NULL,                    -- readings (frames) in the minute
  voltage_min INTEGER, voltage_max INTEGER, voltage_sum INTEGER, voltage_n INTEGER NOT NULL DEFAULT 0,
  current_min INTEGER, current_max INTEGER, current_sum INTEGER, current_n INTEGER NOT NULL DEFAULT 0,
  power_min INTEGER, power_max INTEGER, power_sum INTEGER, power_n INTEGER NOT NULL DEFAULT 0,
  energy_min INTEGER, energy_max INTEGER, energy_sum INTEGER, energy_n INTEGER NOT NULL DEFAULT 0,
  humidity_min INTEGER, humidity_max INTEGER, humidity_sum INTEGER, humidity_n INTEGER NOT NULL DEFAULT 0,
  temperature_min INTEGER, temperature_max INTEGER, temperature_sum INTEGER, temperature_n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (t, device_id)
) WITHOUT ROWID;

INSERT INTO readings_1m_new
SELECT t, device_id, n,
  CAST(round(voltage_min * 10) AS INTEGER), CAST(round(voltage_max * 10) AS INTEGER), CAST(round(voltage_sum * 10) AS INTEGER), voltage_n,
  CAST(round(current_min * 1000) AS INTEGER), CAST(round(current_max * 1000) AS INTEGER), CAST(round(current_sum * 1000) AS INTEGER), current_n,
  CAST(round(power_min * 10) AS INTEGER), CAST(round(power_max * 10) AS INTEGER), CAST(round(power_sum * 10) AS INTEGER), power_n,
  CAST(round(energy_min * 1000) AS INTEGER), CAST(round(energy_max * 1000) AS INTEGER), CAST(round(energy_sum * 1000) AS INTEGER), energy_n,
  CAST(round(humidity_min * 10) AS INTEGER), CAST(round(humidity_max * 10) AS INTEGER), CAST(round(humidity_sum * 10) AS INTEGER), humidity_n,
  CAST(round(temperature_min * 10) AS INTEGER), CAST(round(temperature_max * 10) AS INTEGER), CAST(round(temperature_sum * 10) AS INTEGER), temperature_n
FROM readings_1m ORDER BY t, device_id;

DROP TABLE readings_1m;
ALTER TABLE readings_1m_new RENAME TO readings_1m;

CREATE TABLE readings_1h_new (
  t INTEGER NOT NULL,                    -- start of the hour (UTC), ms since the epoch
  device_id INTEGER NOT NULL,
  n INTEGER NOT NULL,
  voltage_min INTEGER, voltage_max INTEGER, voltage_sum INTEGER, voltage_n INTEGER NOT NULL DEFAULT 0,
  current_min INTEGER, current_max INTEGER, current_sum INTEGER, current_n INTEGER NOT NULL DEFAULT 0,
  power_min INTEGER, power_max INTEGER, power_sum INTEGER, power_n INTEGER NOT NULL DEFAULT 0,
  energy_min INTEGER, energy_max INTEGER, energy_sum INTEGER, energy_n INTEGER NOT NULL DEFAULT 0,
  humidity_min INTEGER, humidity_max INTEGER, humidity_sum INTEGER, humidity_n INTEGER NOT NULL DEFAULT 0,
  temperature_min INTEGER, temperature_max INTEGER, temperature_sum INTEGER, temperature_n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (t, device_id)
) WITHOUT ROWID;

INSERT INTO readings_1h_new
SELECT t, device_id, n,
  CAST(round(voltage_min * 10) AS INTEGER), CAST(round(voltage_max * 10) AS INTEGER), CAST(round(voltage_sum * 10) AS INTEGER), voltage_n,
  CAST(round(current_min * 1000) AS INTEGER), CAST(round(current_max * 1000) AS INTEGER), CAST(round(current_sum * 1000) AS INTEGER), current_n,
  CAST(round(power_min * 10) AS INTEGER), CAST(round(power_max * 10) AS INTEGER), CAST(round(power_sum * 10) AS INTEGER), power_n,
  CAST(round(energy_min * 1000) AS INTEGER), CAST(round(energy_max * 1000) AS INTEGER), CAST(round(energy_sum * 1000) AS INTEGER), energy_n,
  CAST(round(humidity_min * 10) AS INTEGER), CAST(round(humidity_max * 10) AS INTEGER), CAST(round(humidity_sum * 10) AS INTEGER), humidity_n,
  CAST(round(temperature_min * 10) AS INTEGER), CAST(round(temperature_max * 10) AS INTEGER), CAST(round(temperature_sum * 10) AS INTEGER), temperature_n
FROM readings_1h ORDER BY t, device_id;

DROP TABLE readings_1h;
ALTER TABLE readings_1h_new RENAME TO readings_1h;

-- A device's hours over a year or more (history, energy per period): a new entry once an hour per
-- device, never rewritten by the commits within the hour.
CREATE INDEX readings_1h_device_t ON readings_1h (device_id, t);
