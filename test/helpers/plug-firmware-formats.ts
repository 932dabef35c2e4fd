/**
 * How the original ESP_AsyncSmartPlug firmware (github.com/raliand/ESP_AsyncSmartPlug, 2016) prints
 * and reads values, for the test emulation in wifi-plug.ts. Sources: ESP_AsyncSmartPlug.ino (broadcast,
 * WebSocket handler), time_ntp.cpp (clock), spiffs_functions.cpp (things as JSON), the ESP8266 Arduino
 * core (String(float)) and ArduinoJson 5 (parsing into a StaticJsonBuffer, JsonVariant::as<T>()).
 * docs/wifi-plugs.md says which part of canplug relies on which.
 */

/** `String(float)` on the ESP8266 core: dtostrf with two decimals; "nan" and "inf" for the others. */
export function arduinoFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return 'inf';
  return Math.fround(value).toFixed(2);
}

/** time_ntp.cpp `epoch_to_string()`: seconds since 2000-01-01 as `H:MM:SS - D.M.YYYY` (hour, day and month unpadded). */
export function epochToString(secondsSince2000: number): string {
  const d = new Date(Date.UTC(2000, 0, 1) + Math.floor(secondsSince2000) * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCHours()}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} - ${d.getUTCDate()}.${d.getUTCMonth() + 1}.${d.getUTCFullYear()}`;
}

/** Seconds since 2000-01-01 UTC now: what the firmware's clock shows once NTP answered. */
export function secondsSince2000(now = Date.now()): number {
  return Math.floor((now - Date.UTC(2000, 0, 1)) / 1000);
}

/**
 * ArduinoJson 5 `JSON_OBJECT_SIZE(n)` on the ESP8266 (32-bit, float, long): an 8-byte object plus
 * a 16-byte node per member (next pointer, key pointer, 4-byte value, 4-byte type).
 */
export const jsonObjectSize = (members: number) => 8 + 16 * members;

/** A JSON value's nodes in a JsonBuffer, as above (arrays counted like objects: close enough here). */
function nodesSize(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return jsonObjectSize(children.length) + children.reduce((sum: number, child) => sum + nodesSize(child), 0);
}

/**
 * `StaticJsonBuffer<capacity>.parseObject(text)`: text given as `const char*` or `String` is first
 * copied into the buffer, then every object and member takes its nodes; past the capacity the
 * parse fails. Undefined when it fails (not an object, or too big). Stricter than ArduinoJson 5 in
 * one way: that parser also takes single quotes and unquoted words, which JSON.parse refuses; a
 * client that sends strict JSON (canplug does) meets the same plug either way.
 */
export function parseObjectV5(text: string, capacity: number): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (Buffer.byteLength(text) + 1 + nodesSize(value) > capacity) return undefined;
  return value as Record<string, unknown>;
}

/** `JsonVariant::as<String>()`: a string as it is; anything else printed as JSON; a missing key is "". */
export function asString(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `as<int>()`: numbers truncated, numeric text read by strtol, true is 1; anything else 0. */
export function asInt(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) | 0 : 0;
  if (typeof value === 'string') return Number.parseInt(value, 10) || 0;
  return value === true ? 1 : 0;
}

/** `as<float>()`: numbers as 32-bit floats, numeric text parsed, true is 1; anything else 0. */
export function asFloat(value: unknown): number {
  if (typeof value === 'number') return Math.fround(value);
  if (typeof value === 'string') return Math.fround(Number.parseFloat(value) || 0);
  return value === true ? 1 : 0;
}

/** `as<bool>()`: true, a non-zero number, or the text "true". */
export function asBool(value: unknown): boolean {
  if (typeof value === 'number') return value !== 0;
  return value === true || value === 'true';
}
