/** Device names: their form (they are MQTT topic levels and URL parts) and picking a free one. */

export const MAX_NAME_LENGTH = 64;

/** Why a name is not a device name by its form (collisions aside), or undefined. */
export function nameFormatProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/.test(name)) {
    return `a device name is 1 to ${MAX_NAME_LENGTH} letters, digits, spaces, "_", "." or "-", starting with a letter or digit`;
  }
  if (/^\d+$/.test(name)) return 'a device name cannot be only digits (those address node ids)';
  if (name === 'bridge') return '"bridge" is reserved for the gateway\'s own topics';
  return undefined;
}

/**
 * `name`, or the first free `name-2`, `name-3`..., shortened to fit the length limit (a name near
 * the limit would otherwise never fit a suffix). Bounded: the names taken are at most `taken.size`,
 * so one of the first `taken.size + 1` candidates is free. Undefined only when `name` cannot be
 * made a device name at all.
 */
export function freeName(name: string, taken: ReadonlySet<string>): string | undefined {
  if (!nameFormatProblem(name) && !taken.has(name)) return name;
  for (let i = 2; i <= taken.size + 2; i++) {
    const suffix = `-${i}`;
    const candidate = `${name.slice(0, MAX_NAME_LENGTH - suffix.length)}${suffix}`;
    if (!taken.has(candidate) && !nameFormatProblem(candidate)) return candidate;
  }
  return undefined;
}
