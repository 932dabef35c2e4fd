/** Firmware versions and keys for update tests: the real firmware package with another version number, signed. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBundle, publicKeyHex, type Bundle } from '../../src/gateway/firmware-bundle.js';

export const FIRMWARE = fileURLToPath(new URL('../../firmware', import.meta.url));

/**
 * The repository's firmware folder copied with FIRMWARE_VERSION set to `version`; removed by the
 * returned cleanup. `everyFile`: every .py file changes (a comment), so none can be copied on the node.
 */
export function firmwareWithVersion(version: string, everyFile = false): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'canplug-fw-'));
  cpSync(join(FIRMWARE, 'canplug'), join(dir, 'canplug'), { recursive: true, filter: (src) => !src.includes('__pycache__') });
  const init = join(dir, 'canplug', '__init__.py');
  const [major, minor] = version.split('.');
  writeFileSync(init, readFileSync(init, 'utf8').replace(/FIRMWARE_VERSION = \(\d+, \d+\)/, `FIRMWARE_VERSION = (${major}, ${minor})`));
  if (everyFile) {
    for (const entry of readdirSync(join(dir, 'canplug'), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.py')) appendFileSync(join(entry.parentPath, entry.name), `# ${version}\n`);
    }
  }
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The real firmware as version `version`, signed by `key`; `everyFile` as in firmwareWithVersion(). */
export function bundleOf(version: string, key: KeyObject, everyFile = false): Bundle {
  const copy = firmwareWithVersion(version, everyFile);
  try {
    return buildBundle(copy.dir, key);
  } finally {
    copy.cleanup();
  }
}

export function newKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** The node's update_key.pub for a fresh VM flash: the key it accepts bundles from. */
export function keyFiles(key: KeyObject): Record<string, string> {
  return { '/flash/update_key.pub': `${publicKeyHex(key)}\n` };
}
