/**
 * The Wi-Fi plugs' UDP broadcast (docs/wifi-plugs.md, from the firmware's `multicast_status()`):
 * `<chipId>:<nodeName>&<thingId>:<value>&<thingId>:<value>...`, for example
 * `1234567:Kitchen&1:1.00&2:318.50&3:0.90&4:10:00:07 - 22.11.2026`.
 * Parts are split on every "&" and on the first ":" of each part, so a value may contain ":"
 * (the clock does). Anything else is refused with the reason, never half-applied.
 */

/** Thing ids of the AsyncSmartPlug firmware. */
export const Thing = { plug: 1, watts: 2, dailyWattHours: 3, clock: 4 } as const;

/** Things whose value is text rather than a number. */
const TEXT_THINGS = new Set<number>([Thing.clock]);

export interface PlugDatagram {
  /** The ESP8266 chip id, decimal, as the firmware prints it. */
  chipId: string;
  nodeName: string;
  /** Numeric things by id: finite, except thing 1, which is NaN when the plug printed "nan" or "inf". */
  values: Map<number, number>;
  /** Text things by id (the clock). */
  texts: Map<number, string>;
}

export type ParseResult = { ok: true; datagram: PlugDatagram } | { ok: false; error: string };

const MAX_NAME = 127; // the firmware's nodeName buffer is 128 bytes
const MAX_THINGS = 32;
const MAX_TEXT = 40;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** How the firmware prints a float that is not finite (ESP8266 core dtostrf); only thing 1 can hold one. */
const NOT_FINITE = /^-?(nan|inf)$/i;

const fail = (error: string): ParseResult => ({ ok: false, error });

export function parseDatagram(bytes: Uint8Array, maxBytes: number): ParseResult {
  if (bytes.length > maxBytes) return fail(`${bytes.length} bytes, over the ${maxBytes}-byte limit`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('not UTF-8 text');
  }
  // A C string may carry its terminator or a line end; nothing else outside printable text.
  text = text.replace(/[\0\r\n]+$/, '');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(text)) return fail('contains control characters');

  const [head, ...parts] = text.split('&');
  const colon = head.indexOf(':');
  if (colon < 0) return fail('no ":" between chip id and node name');
  const chipId = head.slice(0, colon);
  const nodeName = head.slice(colon + 1).trim();
  if (!/^\d{1,10}$/.test(chipId) || Number(chipId) > 0xffffffff) return fail(`chip id ${preview(chipId)} is not a 32-bit decimal number`);
  if (nodeName === '') return fail('empty node name');
  if (nodeName.length > MAX_NAME) return fail(`node name longer than ${MAX_NAME} characters`);
  if (parts.length === 0) return fail('no things after the node name');
  if (parts.length > MAX_THINGS) return fail(`more than ${MAX_THINGS} things`);

  const values = new Map<number, number>();
  const texts = new Map<number, string>();
  for (const part of parts) {
    const sep = part.indexOf(':');
    if (sep < 0) return fail(`thing ${preview(part)} has no ":"`);
    const idText = part.slice(0, sep);
    const valueText = part.slice(sep + 1).trim();
    if (!/^\d{1,3}$/.test(idText) || Number(idText) < 1) return fail(`thing id ${preview(idText)} is not a number from 1 to 999`);
    const id = Number(idText);
    if (values.has(id) || texts.has(id)) return fail(`thing ${id} appears twice`);
    if (TEXT_THINGS.has(id)) {
      if (valueText.length > MAX_TEXT) return fail(`thing ${id} is longer than ${MAX_TEXT} characters`);
      texts.set(id, valueText);
      continue;
    }
    if (id === Thing.plug && NOT_FINITE.test(valueText)) {
      values.set(id, Number.NaN);
      continue;
    }
    if (!NUMBER.test(valueText)) return fail(`thing ${id} value ${preview(valueText)} is not a number`);
    // "1e999" has the grammar of a number but is Infinity: it would reach MQTT as null and SQLite as inf.
    if (!Number.isFinite(Number(valueText))) return fail(`thing ${id} value ${preview(valueText)} is out of range`);
    values.set(id, Number(valueText));
  }

  const watts = values.get(Thing.watts);
  if (watts !== undefined && watts < 0) return fail(`thing 2 (Wats) is negative: ${watts}`);
  return { ok: true, datagram: { chipId: String(Number(chipId)), nodeName, values, texts } };
}

/**
 * The relay as the firmware drives it from thing 1: `digitalWrite(switchOut, value)` turns the
 * stored float into a byte, so any non-zero integer part is ON (another client may store 2 or 0.5).
 * A value that is not finite leaves the relay unknown. See docs/wifi-plugs.md.
 */
export function relayFromPlugValue(value: number): boolean | undefined {
  return Number.isFinite(value) ? Math.trunc(value) !== 0 : undefined;
}

/** A node name as a device name the registry accepts (Registry.nameProblem), or undefined. */
export function deviceNameFor(nodeName: string): string | undefined {
  const name = nodeName
    .replace(/[^A-Za-z0-9 _.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64)
    .trim();
  if (name === '' || /^\d+$/.test(name) || name === 'bridge') return undefined;
  return name;
}

function preview(text: string): string {
  return JSON.stringify(text.length > 24 ? `${text.slice(0, 24)}...` : text);
}
