/**
 * Firmware bundles (docs/protocol.md, "Firmware transfer"): the firmware's files with a manifest
 * (version, per-file size and SHA-256, total size) signed with the gateway's Ed25519 key. The node
 * verifies the signature with the public key its running firmware carries (update_key.pub, which
 * every bundle carries for the next update) and checks every file against the manifest.
 *
 * A bundle file is JSON: the manifest's exact signed bytes, the signature, and the files, base64.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export const BUNDLE_FORMAT = 1;
export const KEY_FILE = 'update_key.pub';
/** The node's limits (firmware/canplug/bundle.py): whole 4 KiB blocks per file, 255 files. */
const BLOCK = 4096;
const MAX_FILES = 255;
const NAME = /^[a-z0-9_]{1,32}$/;

export class BundleError extends Error {}

export const BundleSchema = Type.Object(
  {
    format: Type.Literal(BUNDLE_FORMAT),
    version: Type.String({ pattern: '^\\d{1,3}\\.\\d{1,3}$', description: 'major.minor, as the heartbeat carries it' }),
    manifest: Type.String({ description: 'the signed manifest bytes, base64' }),
    signature: Type.String({ description: 'Ed25519 signature of the manifest bytes, base64' }),
    files: Type.Record(Type.String(), Type.String(), { description: 'path -> contents, base64' }),
  },
  { $id: 'FirmwareBundle', additionalProperties: false },
);
export type Bundle = Static<typeof BundleSchema>;

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: number;
  version: string;
  created: string;
  total_size: number;
  files: ManifestFile[];
}

/** A bundle checked against a key: what the updater sends. */
export interface VerifiedBundle {
  version: string;
  manifestBytes: Buffer;
  signature: Buffer;
  manifest: Manifest;
  /** In manifest order. */
  contents: Buffer[];
  /** Flash the node needs for it (firmware/canplug/bundle.py space_needed). */
  spaceNeeded: number;
}

/** What the node accepts: canplug/... .py or .mpy, and the update key. */
export function pathAllowed(path: string): boolean {
  if (path === KEY_FILE) return true;
  const parts = path.split('/');
  if (parts.length < 2 || parts[0] !== 'canplug') return false;
  const name = parts[parts.length - 1];
  const stem = name.replace(/\.(py|mpy)$/, '');
  return stem !== name && NAME.test(stem) && parts.slice(1, -1).every((p) => NAME.test(p));
}

export function spaceNeeded(manifest: Manifest): number {
  return (3 + manifest.files.reduce((n, f) => n + Math.ceil(f.size / BLOCK), 0)) * BLOCK;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The public key as the node's update_key.pub holds it: 64 hex digits. */
export function publicKeyHex(key: KeyObject): string {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
}

/** The signing key (PKCS#8 PEM); the daemon only reads it, to check bundles before sending them. */
export function loadSigningKey(path: string): KeyObject {
  if (!existsSync(path)) throw new BundleError(`no firmware signing key at ${path}: "canplug firmware build" makes one`);
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch (error) {
    throw new BundleError(`${path} is not a private key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BundleError(`${path} is a ${key.asymmetricKeyType} key, not Ed25519`);
  return key;
}

/** The signing key (PKCS#8 PEM, mode 0600), made on first use (canplug firmware build, firmware key). */
export function loadOrCreateSigningKey(path: string): { key: KeyObject; created: boolean } {
  if (existsSync(path)) return { key: loadSigningKey(path), created: false };
  const { privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  chmodSync(`${path}.tmp`, 0o600);
  renameSync(`${path}.tmp`, path);
  return { key: privateKey, created: true };
}

/** FIRMWARE_VERSION = (1, 0) in canplug/__init__.py -> "1.0". */
export function firmwareVersion(packageDir: string): string {
  const text = readFileSync(join(packageDir, '__init__.py'), 'utf8');
  const match = /^FIRMWARE_VERSION\s*=\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)/m.exec(text);
  if (!match || Number(match[1]) > 255 || Number(match[2]) > 255) {
    throw new BundleError(`${packageDir}/__init__.py has no FIRMWARE_VERSION = (major, minor) with numbers up to 255`);
  }
  return `${Number(match[1])}.${Number(match[2])}`;
}

/** Every .py and .mpy under the firmware's canplug/ folder, as bundle paths, sorted. */
function packageFiles(firmwareDir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(firmwareDir, rel)).sort()) {
      const child = `${rel}/${name}`;
      if (statSync(join(firmwareDir, child)).isDirectory()) {
        if (name !== '__pycache__') walk(child);
      } else if (/\.(py|mpy)$/.test(name)) {
        if (!pathAllowed(child)) throw new BundleError(`${child}: the node accepts only lower-case names of letters, digits and _`);
        out.push(child);
      }
    }
  };
  walk('canplug');
  return out;
}

/**
 * Builds and signs a bundle from a firmware folder (the one with canplug/ in it). `nextKey` is the key
 * the node will trust afterwards (default: the signing key itself).
 */
export function buildBundle(firmwareDir: string, key: KeyObject, options: { nextKey?: KeyObject; created?: Date } = {}): Bundle {
  if (!existsSync(join(firmwareDir, 'canplug', '__init__.py')))
    throw new BundleError(`${firmwareDir} has no canplug/__init__.py: not a firmware folder`);
  const version = firmwareVersion(join(firmwareDir, 'canplug'));
  const contents = new Map<string, Buffer>();
  for (const path of packageFiles(firmwareDir)) contents.set(path, readFileSync(join(firmwareDir, path)));
  contents.set(KEY_FILE, Buffer.from(`${publicKeyHex(options.nextKey ?? key)}\n`));
  if (contents.size > MAX_FILES) throw new BundleError(`${contents.size} files: a bundle holds at most ${MAX_FILES}`);
  const files = [...contents].map(([path, data]) => ({ path, size: data.length, sha256: sha256(data) }));
  const manifest: Manifest = {
    format: BUNDLE_FORMAT,
    version,
    created: (options.created ?? new Date()).toISOString(),
    total_size: files.reduce((n, f) => n + f.size, 0),
    files,
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    format: BUNDLE_FORMAT,
    version,
    manifest: manifestBytes.toString('base64'),
    signature: sign(null, manifestBytes, key).toString('base64'),
    files: Object.fromEntries([...contents].map(([path, data]) => [path, data.toString('base64')])),
  };
}

/** Checks a bundle the way the node will: signature by `key`, every file against the manifest. */
export function verifyBundle(bundle: Bundle, key: KeyObject): VerifiedBundle {
  if (!Value.Check(BundleSchema, bundle)) {
    const first = [...Value.Errors(BundleSchema, bundle)][0];
    throw new BundleError(`not a firmware bundle: ${first ? `${first.path || '(top)'} ${first.message}` : 'wrong shape'}`);
  }
  const manifestBytes = Buffer.from(bundle.manifest, 'base64');
  const signature = Buffer.from(bundle.signature, 'base64');
  if (signature.length !== 64 || !verify(null, manifestBytes, createPublicKey(key), signature)) {
    throw new BundleError(
      `the bundle's signature does not match this gateway's key (${publicKeyHex(key)}): it was signed with another key, or altered`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  } catch {
    throw new BundleError('the manifest is not JSON');
  }
  if (manifest.version !== bundle.version)
    throw new BundleError(`the manifest says version ${manifest.version}, the bundle ${bundle.version}`);
  const contents = manifest.files.map((f) => {
    if (!pathAllowed(f.path)) throw new BundleError(`${f.path}: not a path the node accepts`);
    const data = bundle.files[f.path] === undefined ? undefined : Buffer.from(bundle.files[f.path], 'base64');
    if (!data) throw new BundleError(`${f.path} is in the manifest but not in the bundle`);
    if (data.length !== f.size || sha256(data) !== f.sha256)
      throw new BundleError(`${f.path} does not match its manifest entry (size or SHA-256)`);
    return data;
  });
  if (!manifest.files.some((f) => f.path === KEY_FILE))
    throw new BundleError(`the bundle has no ${KEY_FILE}: the node could take no further update`);
  return { version: manifest.version, manifestBytes, signature, manifest, contents, spaceNeeded: spaceNeeded(manifest) };
}

export function readBundleFile(path: string): Bundle {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new BundleError(`cannot read the bundle ${path}: ${(error as Error).message}`);
  }
  if (!Value.Check(BundleSchema, value)) throw new BundleError(`${path} is not a firmware bundle (canplug firmware build makes them)`);
  return value;
}

export function writeBundleFile(path: string, bundle: Bundle): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(bundle)}\n`);
  renameSync(`${path}.tmp`, path);
}
