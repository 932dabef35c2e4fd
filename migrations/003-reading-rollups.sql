-- Per-minute and per-hour rollups of the readings, kept by the batch writer as rows arrive, so a
-- history query over months reads thousands of rollup rows instead of millions of readings.
-- For each quantity: min, max, sum and count of the readings in the period (avg = sum / count).
CREATE TABLE readings_1m (
  device_id INTEGER NOT NULL,
  t INTEGER NOT NULL,                    -- start of the minute, ms since the epoch
  n INTEGER NOT NULL,                    -- readings (frames) in the minute
  voltage_min REAL, voltage_max REAL, voltage_sum REAL, voltage_n INTEGER NOT NULL DEFAULT 0,
  current_min REAL, current_max REAL, current_sum REAL, current_n INTEGER NOT NULL DEFAULT 0,
  power_min REAL, power_max REAL, power_sum REAL, power_n INTEGER NOT NULL DEFAULT 0,
  energy_min REAL, energy_max REAL, energy_sum REAL, energy_n INTEGER NOT NULL DEFAULT 0,
  humidity_min REAL, humidity_max REAL, humidity_sum REAL, humidity_n INTEGER NOT NULL DEFAULT 0,
  temperature_min REAL, temperature_max REAL, temperature_sum REAL, temperature_n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, t)
) WITHOUT ROWID;

CREATE TABLE readings_1h (
  device_id INTEGER NOT NULL,
  t INTEGER NOT NULL,                    -- start of the hour (UTC), ms since the epoch
  n INTEGER NOT NULL,
  voltage_min REAL, voltage_max REAL, voltage_sum REAL, voltage_n INTEGER NOT NULL DEFAULT 0,
  current_min REAL, current_max REAL, current_sum REAL, current_n INTEGER NOT NULL DEFAULT 0,
  power_min REAL, power_max REAL, power_sum REAL, power_n INTEGER NOT NULL DEFAULT 0,
  energy_min REAL, energy_max REAL, energy_sum REAL, energy_n INTEGER NOT NULL DEFAULT 0,
  humidity_min REAL, humidity_max REAL, humidity_sum REAL, humidity_n INTEGER NOT NULL DEFAULT 0,
  temperature_min REAL, temperature_max REAL, temperature_sum REAL, temperature_n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, t)
) WITHOUT ROWID;

-- Readings stored before this migration.
INSERT INTO readings_1m
SELECT device_id, ts - ts % 60000, count(*),
  min(voltage), max(voltage), sum(voltage), count(voltage),
  min(current), max(current), sum(current), count(current),
  min(power), max(power), sum(power), count(power),
  min(energy), max(energy), sum(energy), count(energy),
  min(humidity), max(humidity), sum(humidity), count(humidity),
  min(temperature), max(temperature), sum(temperature), count(temperature)
FROM readings GROUP BY device_id, ts - ts % 60000;

INSERT INTO readings_1h
SELECT device_id, t - t % 3600000, sum(n),
  min(voltage_min), max(voltage_max), sum(voltage_sum), sum(voltage_n),
  min(current_min), max(current_max), sum(current_sum), sum(current_n),
  min(power_min), max(power_max), sum(power_sum), sum(power_n),
  min(energy_min), max(energy_max), sum(energy_sum), sum(energy_n),
  min(humidity_min), max(humidity_max), sum(humidity_sum), sum(humidity_n),
  min(temperature_min), max(temperature_max), sum(temperature_sum), sum(temperature_n)
FROM readings_1m GROUP BY device_id, t - t % 3600000;
